"""Spread feeds over worker processes, start them, and restart a worker that dies.

:func:`assign_feeds` balances the (venue, instrument) feeds over N workers by expected message
rate (longest-processing-time first: the busiest feed goes to the least loaded worker).
:class:`Supervisor` runs one ``python -m dragonfly worker`` process per share and watches it;
when one exits while it should not, every (venue, instrument) of that worker turns STALE in the
aggregators (published to the supervisor's sink, with the exit status as the reason) and the
worker is started again after a backoff (exponential, reset once a worker has run for
``stable_s``). A worker's standard input is a pipe from the supervisor: its first line is the
worker's configuration (not on the command line, which any user of the host can read), and a worker
whose supervisor is gone (even killed) sees the pipe close and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._lifecycle import StartStop
from ..clients.base import Backoff
from ..errors import ConfigError
from ..model import BookUpdate, VenueStatus
from .base import Key
from .worker import WorkerConfig

__all__ = ("Supervisor", "WorkerState", "assign_feeds", "worker_configs")

log = logging.getLogger(__name__)

#: Expected messages per second of a feed when nothing better is known.
DEFAULT_RATE = 10.0


def assign_feeds(
    keys: Sequence[Key], workers: int, rate: Mapping[str, float] | Callable[[str], float] | None = None
) -> list[list[Key]]:
    """Split ``keys`` ((venue, instrument) feeds) into at most ``workers`` shares of about equal
    expected message rate; ``rate`` maps a venue to its expected messages/s per instrument.

    Deterministic: the same input gives the same shares. Empty shares are left out.
    """
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive int, got {workers!r}")

    def rate_of(venue: str) -> float:
        if rate is None:
            return DEFAULT_RATE
        r = rate(venue) if callable(rate) else rate.get(venue, DEFAULT_RATE)
        return float(r) if r and r > 0 else DEFAULT_RATE

    shares: list[list[Key]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for key in sorted(dict.fromkeys(keys), key=lambda k: (-rate_of(k[0]), k)):
        i = min(range(workers), key=lambda w: (load[w], len(shares[w]), w))
        shares[i].append(key)
        load[i] += rate_of(key[0])
    return [s for s in shares if s]


def worker_configs(shares: Sequence[Sequence[Key]], *, bus: str, **kwargs: Any) -> list[WorkerConfig]:
    """One :class:`WorkerConfig` per share (ids ``1``, ``2``, ...), one feed per venue in it."""
    out = []
    for n, share in enumerate(shares, 1):
        feeds: dict[str, list[str]] = {}
        for venue, instrument in share:
            feeds.setdefault(venue, []).append(instrument)
        out.append(
            WorkerConfig(worker_id=str(n), bus=bus, feeds=tuple((v, tuple(i)) for v, i in feeds.items()), **kwargs)
        )
    return out


def describe_exit(code: int | None) -> str:
    if code is None:
        return "running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


@dataclass(slots=True)
class WorkerState:
    """What the supervisor knows of one worker."""

    config: WorkerConfig
    pid: int = 0
    running: bool = False
    starts: int = 0
    restarts: int = 0
    last_exit: str = ""


class Supervisor(StartStop):
    """Runs worker processes and restarts them (see the module notes).

    Parameters
    ----------
    configs : sequence of WorkerConfig
    sink : Sink[BookUpdate]
        Where a dead worker's STALE updates go (the aggregators' router).
    backoff : Backoff
        Delay before restart ``n`` (``n`` = restarts in a row of a worker that did not stay up ``stable_s``).
    stable_s : float
        A worker that ran this long is healthy again: its next restart waits ``backoff.delay(0)``.
    python : str
        The interpreter to run ``-m dragonfly worker`` with.
    log_level : str
        The workers' ``--log-level``.
    """

    def __init__(
        self,
        configs: Sequence[WorkerConfig],
        *,
        sink: Any,
        backoff: Backoff | None = None,
        stable_s: float = 10.0,
        python: str = sys.executable,
        log_level: str = "warning",
    ) -> None:
        if not configs:
            raise ConfigError("a supervisor needs at least one worker")
        ids = [c.worker_id for c in configs]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"two workers with one id: {ids}")
        self.sink = sink
        self.backoff = backoff or Backoff(initial_s=0.1, max_s=10.0, jitter=0.2)
        self.stable_s = stable_s
        self.python = python
        self.log_level = log_level
        self.workers: dict[str, WorkerState] = {c.worker_id: WorkerState(c) for c in configs}
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._started: dict[str, asyncio.Event] = {w: asyncio.Event() for w in self.workers}

    def command(self, config: WorkerConfig) -> list[str]:
        return [self.python, "-m", "dragonfly", "worker", "--config-stdin", "--log-level", self.log_level]

    async def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._supervise(state), name=f"supervise:{wid}") for wid, state in self.workers.items()
        ]

    async def wait_started(self, worker: str, timeout: float = 30.0) -> int:
        """Wait until ``worker``'s current process is running; its pid."""
        state = self.workers[worker]
        await asyncio.wait_for(self._started[worker].wait(), timeout)
        return state.pid

    async def _supervise(self, state: WorkerState) -> None:
        cfg = state.config
        wid = cfg.worker_id
        loop = asyncio.get_running_loop()
        failures = 0
        while not self._stopping.is_set():
            began = loop.time()
            try:
                proc = await asyncio.create_subprocess_exec(*self.command(cfg), stdin=asyncio.subprocess.PIPE)
                assert proc.stdin is not None
                proc.stdin.write(cfg.to_json().encode() + b"\n")  # the pipe stays open: its end stops the worker
            except OSError as exc:
                code_text = f"could not start: {exc.strerror or type(exc).__name__}"
            else:
                self._procs[wid] = proc
                state.pid = proc.pid
                state.running = True
                state.starts += 1
                self._started[wid].set()
                code = await proc.wait()
                state.running = False
                self._started[wid] = asyncio.Event()
                self._procs.pop(wid, None)
                code_text = describe_exit(code)
                if self._stopping.is_set():
                    state.last_exit = code_text
                    return
            if loop.time() - began >= self.stable_s:
                failures = 0
            delay = self.backoff.delay(failures)
            failures += 1
            state.restarts += 1
            state.last_exit = code_text
            reason = f"worker {wid} {code_text}; restart #{state.restarts} in {delay:.2g} s"
            log.warning("%s", reason)
            now = time.time_ns()
            for venue, instrument in cfg.keys:
                self.sink.publish(BookUpdate(venue, instrument, (), (), VenueStatus.STALE, 0, now, reason))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)  # the backoff itself

    async def stop(self) -> None:
        self._stopping.set()
        procs = list(self._procs.values())
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), 5.0)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                await p.wait()
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for p in procs:  # the stdin pipes
            if p.stdin is not None:
                p.stdin.close()

    def counters(self) -> dict[str, Any]:
        return {
            wid: {"pid": s.pid, "running": s.running, "starts": s.starts, "restarts": s.restarts,
                  "last_exit": s.last_exit, "keys": len(s.config.keys)}
            for wid, s in self.workers.items()
        }
