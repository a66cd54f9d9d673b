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
    "InvalidLevelError",
    "FrameError",
    "VenueError",
    "VenueConnectionError",
    "ConfigError",
    "BindError",
    "TopologyFileError",
    "FixError",
    "FixParseError",
    "FixSessionError",
    "LevelsError",
    "LevelsTypeError",
    "OrderError",
    "OrderTimeoutError",
    "CredentialsError",
    "BusMessageError",
    "BusError",
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

    def __init__(
        self, message: str, *, venue: str = "", instrument: str = "", expected: int = -1, got: int = -1
    ) -> None:
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


class InvalidLevelError(BookIntegrityError, ValueError):
    """A book delta that cannot be applied: not a ``(price, qty, ...)`` entry, a
    price or quantity that is not a number, not finite, or a negative quantity.

    A batch is applied in order, so the book may hold the part of the batch
    before the bad entry: treat the book as wrong and resync it.

    Attributes
    ----------
    entry : object
        The offending entry as given.
    """

    def __init__(self, message: str, *, venue: str = "", instrument: str = "", entry: object = None) -> None:
        super().__init__(message, venue=venue, instrument=instrument)
        self.entry = entry


class FrameError(DragonflyError, ValueError):
    """A venue frame that cannot be parsed, with the instrument it belongs to when that is known.

    Raised by venue adapters; the feed driver resyncs only ``symbol`` (all instruments of the
    connection that could have lost data when it is "").

    Attributes
    ----------
    symbol : str
        The venue's symbol the frame was for, "" when not known.
    """

    def __init__(self, message: str, *, symbol: str = "") -> None:
        super().__init__(message)
        self.symbol = symbol


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


class BindError(ConfigError, OSError):
    """A server cannot listen where it was configured to (port in use, unknown host, ...).

    Attributes
    ----------
    service : str
        Which server (``"gRPC"``, ``"FIX"``, ...).
    host : str
    port : int
        The configured address (port 0: any free port).
    address : str
        ``host:port`` as the message names it.
    """

    def __init__(self, message: str, *, service: str = "", host: str = "", port: int = 0, address: str = "") -> None:
        super().__init__(message)
        self.service = service
        self.host = host
        self.port = port
        self.address = address or f"{host}:{port}"


class TopologyFileError(ConfigError):
    """A topology file that cannot be used: unreadable, not TOML, or a key that is wrong.

    The message is one line: ``FILE:LINE: KEY: what is wrong`` (``FILE: KEY: ...`` when the
    line is not known).

    Attributes
    ----------
    path : str
        The file.
    key : str
        Dotted key of what is wrong (``aggregators.bbo.inputs[1]``); "" for the whole file.
    line : int or None
        1-based line of that key, when found.
    reason : str
        What is wrong, without the location.
    """

    def __init__(self, reason: str, *, path: str, key: str = "", line: int | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")
        self.path = path
        self.key = key
        self.line = line
        self.reason = reason


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


class LevelsError(DragonflyError, ValueError):
    """Price levels handed to the merge or the wire encoder are malformed.

    Raised by both twins of :mod:`dragonfly._core.merge` and
    :mod:`dragonfly._core.wire` for bad values: a NaN price or quantity in a
    merge, a venue side that is not best-first, a level of the wrong length, a
    number too large for a double, a venue name that is not valid UTF-8, a
    negative ``depth``.

    Attributes
    ----------
    venue : str
        The venue concerned ("" when not known or not applicable).
    side : str
        ``"bids"``, ``"asks"`` or "" when not applicable.
    index : int
        Position of the offending level in its side, or -1.
    """

    def __init__(self, message: str, *, venue: str = "", side: str = "", index: int = -1) -> None:
        super().__init__(message)
        self.venue = venue
        self.side = side
        self.index = index


class LevelsTypeError(LevelsError, TypeError):
    """Like :class:`LevelsError`, for arguments of the wrong type (also a ``TypeError``)."""


class QueueClosedError(DragonflyError, StopAsyncIteration):
    """Reading from a queue or subscription that is closed and empty.

    Also a :class:`StopAsyncIteration`, so ``async for`` over a subscription
    simply ends.
    """


class OrderError(VenueError):
    """An order-entry request failed without a venue's answer about the order (connection lost, a
    response that cannot be read). Never carries headers, query strings or credentials.

    Attributes
    ----------
    venue : str
    client_id : str
        The child order's client order id ("" when not known).
    """

    def __init__(self, message: str, *, venue: str = "", client_id: str = "", code: object = None) -> None:
        super().__init__(message, venue=venue, code=code)
        self.client_id = client_id


class OrderTimeoutError(OrderError, TimeoutError):
    """No answer from the venue in time: the order's state there is unknown until it is cancelled or queried."""


class CredentialsError(ConfigError):
    """Order-entry credentials missing or unreadable. The message names where they were looked for
    (a file path, an environment variable's name), never a key or a secret."""


class BusMessageError(DragonflyError, ValueError):
    """Bytes on the bus that are not a valid message (truncated, garbage, another format or version).

    Raised by both twins of :mod:`dragonfly._core.busmsg`; the bus consumer counts it, logs it
    once and drops the message (nothing of it is served).

    Attributes
    ----------
    reason : str
        Short machine-readable cause (``"truncated"``, ``"magic"``, ``"version"``, ``"status"``,
        ``"length"``, ``"utf8"``, ``"number"``, ``"trailing"``, ``"levels"``, ``"too_long"``, ``"type"``).
    offset : int
        Byte offset where decoding stopped (-1 when encoding).
    """

    def __init__(self, message: str, *, reason: str = "", offset: int = -1) -> None:
        super().__init__(message)
        self.reason = reason
        self.offset = offset


class BusError(DragonflyError):
    """A bus cannot be used as configured or asked (bad URL, missing optional dependency, not connected)."""
