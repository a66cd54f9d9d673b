"""Helpers for the end-to-end tests (``from e2e_helpers import ...``): run the console scripts as subprocesses.

The commands are the installed console scripts when they are on PATH (``pip
install -e .``); otherwise the same entry points from ``pyproject.toml`` run
with this interpreter, so a plain checkout tests the same code.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = None  # type: ignore[assignment]

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


def _entry_points() -> dict[str, str]:
    text = (REPO / "pyproject.toml").read_text()
    if tomllib is not None:
        return dict(tomllib.loads(text)["project"]["scripts"])
    block = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    return dict(re.findall(r'^([\w-]+)\s*=\s*"([\w.:]+)"', block, re.MULTILINE))


def command(name: str) -> list[str]:
    """argv prefix that runs console script ``name``."""
    found = shutil.which(name)
    if found:
        return [found]
    module, _, func = _entry_points()[name].partition(":")
    return [sys.executable, "-c", f"import sys; from {module} import {func}; sys.exit({func}())"]


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DRAGONFLY_SIMULATE", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


class Proc:
    """A subprocess whose stdout and stderr lines are collected by threads."""

    def __init__(self, argv: list[str], **env: str) -> None:
        self.argv = argv
        self.p = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(**env),
            cwd=REPO,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._pump, args=(stream, sink, tag), daemon=True)
            for stream, sink, tag in ((self.p.stdout, self.out, "out"), (self.p.stderr, self.err, "err"))
        ]
        for t in self._threads:
            t.start()

    def _pump(self, stream, sink: list[str], tag: str) -> None:
        for line in stream:
            sink.append(line)
            self._lines.put((tag, line))
        self._lines.put((tag, ""))

    def wait_line(self, pred: Callable[[str, str], bool], what: str, timeout: float = TIMEOUT) -> str:
        """Return the first line (tag, text) matching ``pred`` (safety timeout only)."""
        deadline = time.monotonic() + timeout
        ended = set()
        while True:
            left = deadline - time.monotonic()
            try:
                tag, line = self._lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"timed out waiting for {what}; stderr: {''.join(self.err)[-2000:]}") from None
            if line == "":
                ended.add(tag)
                if ended == {"out", "err"}:
                    raise AssertionError(
                        f"process ended before {what}: rc={self.p.wait()} stderr: {''.join(self.err)[-2000:]}"
                    )
                continue
            if pred(tag, line):
                return line

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.p.send_signal(sig)

    def wait(self, timeout: float = TIMEOUT) -> int:
        return self.p.wait(timeout)

    def kill(self) -> None:
        """Kill it if still running, then release its pipes (call in ``finally``)."""
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        for t in self._threads:
            t.join(10)
        for f in (self.p.stdout, self.p.stderr):
            if f is not None:
                f.close()


_SERVING = re.compile(r"serving .* on (\S+:\d+)")


def start_server(*args: str, **env: str) -> tuple[Proc, str]:
    """Start ``dragonfly-grpc-server --simulate --port 0 ...``; return it and its address."""
    proc = Proc(command("dragonfly-grpc-server") + list(args), **env)
    try:
        line = proc.wait_line(
            lambda tag, text: tag == "err" and _SERVING.search(text) is not None, "the server to listen"
        )
    except BaseException:
        proc.kill()
        raise
    m = _SERVING.search(line)
    assert m is not None
    return proc, m.group(1)


def run_cmd(name: str, *args: str, timeout: float = TIMEOUT, **env: str) -> tuple[int, str, str]:
    """Run console script ``name`` to completion: ``(rc, stdout, stderr)``."""
    r = subprocess.run(
        command(name) + list(args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(**env),
        cwd=REPO,
        check=False,
    )
    return r.returncode, r.stdout, r.stderr
