"""Readers for the recorded-capture formats in ``../shared/captures`` (see its SOURCES.md).

The captures are third-party data and are never copied into the repository;
these readers only parse files handed to them (tests reach the folder through
the ``captures`` fixture; simulators replay a path the caller gives).

Formats
-------
``cryptofeed`` (text, one record per line; blank lines ignored):
``configuration: {...}``, ``URL <-> ts`` (connect), ``URL <- ts: JSON``
(sent), ``ts: JSON`` (received), ``URL -> ts: BODY`` (HTTP GET response).
``hftbacktest`` (gzip text): ``<local_ts_ns> <raw JSON>`` per line.
``jsonl``/NDJSON (venue dumps, ``derived__*.jsonl``): one message per line.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ("Record", "read_cryptofeed", "read_hftbacktest", "read_lines", "received")

_PREFIX = re.compile(r"(?:(\S+) (<->|<-|->) )?(\d+(?:\.\d*)?)(?:: )?")
_KINDS = {"<->": "connect", "<-": "sent", "->": "http", None: "recv"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One line of a capture.

    Attributes
    ----------
    kind : str
        ``"config"``, ``"connect"``, ``"sent"``, ``"recv"`` or ``"http"``.
    ts : float
        Local time in epoch seconds (0.0 when the line has none).
    url : str
        The connection or HTTP URL ("" for received messages).
    body : str
        The raw message text, unchanged.
    """

    kind: str
    ts: float
    url: str
    body: str


def read_cryptofeed(path: str | Path) -> Iterator[Record]:
    """Yield the records of a cryptofeed capture, in file order."""
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            if line.startswith("configuration: "):
                yield Record(kind="config", ts=0.0, url="", body=line[len("configuration: ") :])
                continue
            m = _PREFIX.match(line)
            if m is None:
                raise ValueError(f"{path}:{number}: not a cryptofeed capture line: {line[:80]!r}")
            yield Record(kind=_KINDS[m.group(2)], ts=float(m.group(3)), url=m.group(1) or "", body=line[m.end() :])


def received(path: str | Path) -> Iterator[tuple[str, str]]:
    """``(kind, body)`` of the received messages and HTTP responses of a
    cryptofeed capture (``kind`` is ``"recv"`` or ``"http"``; for ``"http"``
    the body is the REST response and the URL is available via
    :func:`read_cryptofeed`)."""
    for rec in read_cryptofeed(path):
        if rec.kind in ("recv", "http"):
            yield rec.kind, rec.body


def read_hftbacktest(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(local_ts_ns, raw_json)`` of a gzip hftbacktest capture."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if not line:
                continue
            ts, _, body = line.partition(" ")
            yield int(ts), body


def read_lines(path: str | Path) -> Iterator[str]:
    """Yield the non-blank lines of an NDJSON/JSONL file."""
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if line.strip():
                yield line
