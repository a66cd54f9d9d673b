"""What every benchmark script shares: the compiled core or a refusal, one timing loop, one report header.

A figure is only worth quoting when it times the compiled core a user gets from ``pip install``: a
source checkout without a build silently imports the pure-Python twins. :func:`require_compiled`
refuses to run then and says how to build. :func:`interleaved` times competitors in rotating order
(the machine's noise falls on all of them alike) and reports medians; :func:`percentiles` is the one
way latency samples become p50/p99/p99.9; :func:`header` prints what was timed (interpreter, core
implementation and where it was imported from, versions of the libraries compared with).
"""

from __future__ import annotations

import gc
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = (
    "captures_dir",
    "cpu_seconds",
    "header",
    "interleaved",
    "interleaved_cpu",
    "interleaved_samples",
    "percentiles",
    "require_compiled",
    "version",
)

REPO = Path(__file__).resolve().parent.parent
_CORE_MODULES = ("book", "busmsg", "doc", "extract", "fix", "merge", "topn", "wire")


def require_compiled(prog: str) -> None:
    """Exit with status 2 unless every core module in use is the compiled twin."""
    import dragonfly
    from dragonfly._core import _select

    missing = []
    for name in _CORE_MODULES:
        try:
            importlib.import_module(f"dragonfly._core.{name}_c")
        except ImportError:
            missing.append(name)
    impl = dragonfly.core_implementation()
    if impl != "cython" or missing or _select.implementation() != "cython":
        print(
            f"{prog}: refusing to time the pure-Python core (core_implementation()={impl!r}"
            + (f", not compiled: {', '.join(missing)}" if missing else "")
            + "). Install the compiled core (`pip install .`, or `python setup.py build_ext --inplace` in a "
            "checkout) and unset DRAGONFLY_NO_EXTENSIONS.",
            file=sys.stderr,
        )
        raise SystemExit(2)


def version(dist: str) -> str:
    """Installed version of a distribution, or ``"absent"``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def header(prog: str, compared: Iterable[str] = ()) -> None:
    """Print what is timed: interpreter, machine, the core and where it comes from, compared libraries."""
    import dragonfly
    from dragonfly._core import book

    print(f"# {prog}")
    print(
        f"# python {platform.python_version()} ({platform.python_implementation()}), {platform.machine()}, "
        f"{os.cpu_count()} CPUs; dragonfly {version('dragonflybot')} core={dragonfly.core_implementation()} "
        f"({Path(book.Book.__module__.replace('.', '/')).name} from {Path(dragonfly.__file__).parent})"
    )
    libs = [f"{d} {version(d)}" for d in compared]
    if libs:
        print(f"# compared with: {', '.join(libs)}")


def interleaved(
    fns: Sequence[Callable[[], Any]], rounds: int, *, number: int = 1, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Median seconds per call of each function over ``rounds`` rounds of ``number`` calls.

    The functions run in rotating order each round, with the collector off while timing (collected
    between runs), so drift and neighbours' load fall on all of them alike. ``clock`` is wall time
    by default (see :func:`interleaved_cpu`).
    """
    times: list[list[float]] = [[] for _ in fns]
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            for k in range(len(fns)):
                i = (k + r) % len(fns)
                fn = fns[i]
                t0 = clock()
                for _ in range(number):
                    fn()
                times[i].append((clock() - t0) / number)
                gc.collect()
    finally:
        if enabled:
            gc.enable()
    return [statistics.median(t) for t in times]


def percentiles(samples: Sequence[float], ps: Sequence[float] = (50, 99, 99.9)) -> dict[float, float]:
    """Nearest-rank percentiles of ``samples`` (any unit); empty samples give NaN."""
    if not samples:
        return {p: float("nan") for p in ps}
    s = sorted(samples)
    n = len(s)
    return {p: s[min(n - 1, max(0, int(-(-p * n // 100)) - 1))] for p in ps}


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of a process (this one by default), from /proc where needed."""
    if pid is None or pid == os.getpid():
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def captures_dir() -> Path:
    """The live recordings (``../shared/captures`` beside the checkout, or ``$DRAGONFLY_CAPTURES``)."""
    env = os.environ.get("DRAGONFLY_CAPTURES")
    return Path(env) if env else REPO.parent / "shared" / "captures"


def interleaved_cpu(fns: Sequence[Callable[[], Any]], rounds: int, *, number: int = 1) -> list[float]:
    """:func:`interleaved` measured in CPU seconds of the calling thread (``time.thread_time``), not wall time.

    On a machine shared with other jobs a wall-clock sample also counts the time the process waited
    for a core; for single-threaded, CPU-bound code the thread's own CPU time is the figure that says
    what the code costs. Same rotation, collector handling and medians as :func:`interleaved`.
    """
    return interleaved(fns, rounds, number=number, clock=time.thread_time)


def interleaved_samples(fns: Sequence[Callable[[], Any]], rounds: int) -> None:
    """Run each function ``rounds`` times in rotating order (for runs that record their own measurements,
    e.g. CPU per frame of an asyncio pipeline), collecting garbage between runs."""
    for r in range(rounds):
        for k in range(len(fns)):
            fns[(k + r) % len(fns)]()
            gc.collect()
