"""A FIX 4.4 market-data venue: configuration (frozen, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ...errors import ConfigError

__all__ = ("DEFAULT_BASE_URL", "FixsimConfig", "parse_fix_url")

#: The simulator's default address; production venues pass their own ``fix://host:port``.
DEFAULT_BASE_URL = "fix://127.0.0.1:9878"


def parse_fix_url(url: str) -> tuple[str, int, bool]:
    """``fix://host:port`` (plain TCP) or ``fixs://host:port`` (TLS) -> ``(host, port, tls)``.

    Raises
    ------
    ConfigError
        Anything else.
    """
    try:
        u = urlsplit(url)
        port = u.port
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid FIX URL {url!r}: {exc}") from exc
    if u.scheme not in ("fix", "fixs", "tcp") or not u.hostname or port is None:
        raise ConfigError(f"invalid FIX URL {url!r}: expected fix://host:port or fixs://host:port")
    return u.hostname, port, u.scheme == "fixs"


@dataclass(frozen=True, slots=True, kw_only=True)
class FixsimConfig:
    """What to ask a FIX market-data venue for.

    Parameters
    ----------
    base_url : str
        ``fix://host:port`` or ``fixs://host:port`` (TLS).
    sender_comp_id, target_comp_id : str
        Our CompID and the venue's.
    password : str or None
        Sent as 554 in the Logon.
    incremental : bool
        MDUpdateType (265): True asks for 35=X incrementals after the snapshot, False for 35=W full refreshes.
    heartbeat_s : int
        HeartBtInt.
    store_path : str or None
        Sequence-number file (resume after restart); None keeps them in memory.
    reset_seq_num : bool
        ResetSeqNumFlag=Y on every Logon.
    max_depth : int
        Most levels per side the venue serves.
    """

    base_url: str = DEFAULT_BASE_URL
    sender_comp_id: str = "DRAGONFLY"
    target_comp_id: str = "FIXSIM"
    password: str | None = field(default=None, repr=False)  # a secret: never in a repr
    incremental: bool = True
    heartbeat_s: int = 30
    store_path: str | None = None
    reset_seq_num: bool = False
    max_depth: int = 50

    def __post_init__(self) -> None:
        parse_fix_url(self.base_url)
        if not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise ConfigError("max_depth must be a positive int")
