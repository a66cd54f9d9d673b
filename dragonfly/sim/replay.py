"""Recordings in the ../shared/captures formats, for the simulators to replay.

Formats read (see captures/SOURCES.md):

* cryptofeed raw capture: ``ts: JSON`` lines are received messages; ``URL <-> ts``
  (connect), ``URL <- ts: JSON`` (sent), ``URL -> ts: BODY`` (REST) and the
  ``configuration:`` line are skipped; blank lines are allowed;
* hftbacktest ``.gz``: ``<local_ts_ns> <raw JSON>`` per line;
* ``*.jsonl``: one payload per line, no timestamps (replayed as fast as allowed).

Payloads are kept byte for byte (as text). :func:`write_cryptofeed` writes the
first format, so tests can record what they generate and replay it.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ("Recording", "read_recording", "write_cryptofeed")

_CF_RECV = re.compile(r"^(\d+(?:\.\d+)?): (.*)$", re.S)
_HFT = re.compile(r"^(\d+) (.*)$", re.S)

#: (timestamp in seconds or None, payload text)
Record = tuple[float | None, str]


def read_recording(path: str | Path, fmt: str = "auto") -> Iterator[Record]:
    """Yield ``(ts_s, payload)`` for every received message of a recording.

    Parameters
    ----------
    fmt : {"auto", "cryptofeed", "hftbacktest", "jsonl"}
        ``auto`` picks by name: ``.gz`` -> hftbacktest, ``.jsonl`` -> jsonl, else cryptofeed.
    """
    p = Path(path)
    if fmt == "auto":
        fmt = "hftbacktest" if p.suffix == ".gz" else "jsonl" if p.suffix == ".jsonl" else "cryptofeed"
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8", newline="\n") as fh:
        for raw in fh:
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            if fmt == "jsonl":
                yield None, line
            elif fmt == "hftbacktest":
                m = _HFT.match(line)
                if m:
                    yield int(m.group(1)) / 1e9, m.group(2)
                elif line.startswith("{"):
                    yield None, line  # bare REST snapshot body
            elif fmt == "cryptofeed":
                m = _CF_RECV.match(line)
                if m:
                    yield float(m.group(1)), m.group(2)
            else:
                raise ValueError(f"unknown recording format {fmt!r}")


class Recording:
    """A recording loaded in memory (iterate for ``(ts_s, payload)``).

    Parameters
    ----------
    records : iterable of (float or None, str)
    """

    def __init__(self, records: Iterable[Record]) -> None:
        self.records: list[Record] = list(records)

    @classmethod
    def load(cls, path: str | Path, fmt: str = "auto", *, limit: int | None = None) -> Recording:
        out: list[Record] = []
        for rec in read_recording(path, fmt):
            out.append(rec)
            if limit is not None and len(out) >= limit:
                break
        return cls(out)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


def write_cryptofeed(path: str | Path, records: Iterable[Record], url: str = "wss://simulated") -> None:
    """Write ``records`` in the cryptofeed raw capture format (``ts: payload`` lines)."""
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        first = True
        for ts, payload in records:
            t = 0.0 if ts is None else ts
            if first:
                fh.write(f"{url} <-> {t:.6f}\n")
                first = False
            if "\n" in payload:
                raise ValueError("payload contains a newline")
            fh.write(f"{t:.6f}: {payload}\n")
