"""Every exception dragonfly raises derives from :class:`DragonflyError`.

Where the meaning matches a builtin, the exception also inherits from it, so
``except ValueError`` keeps working for callers that do not know dragonfly.
Data travels as attributes, not only inside the message.
"""

from __future__ import annotations

__all__ = (
    "DragonflyError",
    "ExtractError",
    "BookIntegrityError",
    "SequenceGapError",
    "ChecksumMismatchError",
    "CrossedBookError",
    "VenueError",
    "VenueConnectionError",
    "ConfigError",
    "FixError",
    "FixParseError",
    "FixSessionError",
)


class DragonflyError(Exception):
    """Root of all dragonfly exceptions."""


class ExtractError(DragonflyError, ValueError):
    """Malformed, truncated or wrongly typed input to the level extractor.

    Attributes
    ----------
    pos : int
        Offset in the input (characters for ``str``, bytes for ``bytes``)
        where extraction failed, or -1 when not known.
    """

    def __init__(self, message: str, pos: int = -1) -> None:
        super().__init__(message if pos < 0 else f"{message} at offset {pos}")
        self.pos = pos


class BookIntegrityError(DragonflyError):
    """A book is known to be wrong; the instrument must resync.

    Attributes
    ----------
    venue, instrument : str
        What is affected ("" when not known).
    """

    def __init__(self, message: str, *, venue: str = "", instrument: str = "") -> None:
        super().__init__(message)
        self.venue = venue
        self.instrument = instrument


class SequenceGapError(BookIntegrityError):
    """An update does not follow the previous one (``expected`` vs ``got``)."""

    def __init__(self, message: str, *, venue: str = "", instrument: str = "", expected: int = -1, got: int = -1) -> None:
        super().__init__(message, venue=venue, instrument=instrument)
        self.expected = expected
        self.got = got


class ChecksumMismatchError(BookIntegrityError):
    """The venue's checksum disagrees with the local book."""

    def __init__(self, message: str, *, venue: str = "", instrument: str = "", expected: int = 0, got: int = 0) -> None:
        super().__init__(message, venue=venue, instrument=instrument)
        self.expected = expected
        self.got = got


class CrossedBookError(BookIntegrityError):
    """Best bid is at or above best ask."""


class VenueError(DragonflyError):
    """A venue answered with an error or an unexpected payload."""

    def __init__(self, message: str, *, venue: str = "", code: object = None, payload: object = None) -> None:
        super().__init__(message)
        self.venue = venue
        self.code = code
        self.payload = payload


class VenueConnectionError(VenueError, ConnectionError):
    """The connection to a venue failed or was lost."""


class ConfigError(DragonflyError, ValueError):
    """Invalid configuration or command-line arguments."""


class FixError(DragonflyError):
    """Root of FIX protocol errors."""


class FixParseError(FixError, ValueError):
    """Bytes that are not a valid FIX message (framing, BodyLength, CheckSum, size)."""

    def __init__(self, message: str, *, reason: str = "", tag: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.tag = tag


class FixSessionError(FixError):
    """A FIX session-level violation (logon refused, sequence too low, ...)."""
