"""Helpers for the FIX integration tests: QuickFIX/C++ peers compiled on demand, free ports, collectors.

The peers' sources are in ``tests/fix_peers/``; they are compiled with
``g++ -std=c++14 ... $(pkg-config --cflags --libs quickfix)`` (Debian's
``libquickfix-dev``) into ``$TMPDIR/dragonfly-fix-peers/<hash of the sources>/``,
so a second run reuses the binaries.

Every peer validates what it receives with the FIX 4.4 data dictionary QuickFIX ships
(``spec/FIX44.xml``), unmodified: :func:`stock_dictionary` finds it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dragonfly.model import BookUpdate

PEERS = Path(__file__).resolve().parent
#: Where QuickFIX's own ``make install`` and ``install_fix44.sh`` put the stock dictionary.
DICTIONARY_PATHS = (Path("/usr/local/share/quickfix/FIX44.xml"), Path("/usr/share/quickfix/FIX44.xml"))
#: SHA-256 of ``spec/FIX44.xml`` in QuickFIX 1.15.1 (the version Debian's libquickfix-dev has).
FIX44_SHA256 = "bf1954733e3d9a16293f90139fb95aa8bc49cd41b9663131fb5fb1e77593b78f"
TIMEOUT = 20.0  # safety net for awaited events only; nothing asserts on time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require() -> bool:
    return os.environ.get("DRAGONFLY_REQUIRE_QUICKFIX", "").strip().lower() in ("1", "true", "yes", "on")


def _dpkg_listed(name: str) -> list[Path]:
    """Files named ``name`` that installed QuickFIX packages list (none when dpkg is absent)."""
    try:
        out = subprocess.run(["dpkg", "-L", "libquickfix-dev", "libquickfix-doc"], capture_output=True, text=True,
                             check=False).stdout
    except OSError:
        return []
    return [Path(line) for line in out.splitlines() if line.endswith("/" + name)]


def stock_dictionary() -> Path:
    """The FIX 4.4 data dictionary QuickFIX ships (``spec/FIX44.xml``), unmodified.

    Looked for in ``$DRAGONFLY_QUICKFIX_FIX44``, the installed QuickFIX packages and
    :data:`DICTIONARY_PATHS`. Debian's libquickfix-dev 1.15.1 does not install it;
    ``tests/fix_peers/install_fix44.sh`` (run by ``.ci/run``) puts QuickFIX 1.15.1's own copy in
    ``/usr/local/share/quickfix/``. Missing: skip, or fail under ``DRAGONFLY_REQUIRE_QUICKFIX=1``.
    A file whose SHA-256 is not that of the shipped dictionary fails the test: no edited dictionary.
    """
    env = os.environ.get("DRAGONFLY_QUICKFIX_FIX44")
    candidates = ([Path(env)] if env else []) + _dpkg_listed("FIX44.xml") + list(DICTIONARY_PATHS)
    for path in candidates:
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != FIX44_SHA256:
                pytest.fail(f"{path} is not QuickFIX's stock FIX44.xml (sha256 {digest[:16]}...)")
            return path
    msg = "QuickFIX's FIX44.xml not found (tests/fix_peers/install_fix44.sh installs it)"
    if _require():
        pytest.fail(msg)
    pytest.skip(msg)


def build_peers() -> dict[str, Path]:
    """Compile (or reuse) the peers (``qf_venue``, ``qf_customer``, ``qf_trader``); skip when QuickFIX is not installed,
    unless ``DRAGONFLY_REQUIRE_QUICKFIX=1`` (CI), which turns that into a failure."""
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "quickfix"], capture_output=True, text=True,
                               check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        msg = "QuickFIX not installed (apt-get install libquickfix-dev)"
        if _require():
            pytest.fail(msg)
        pytest.skip(msg)
    if shutil.which("g++") is None:
        if _require():
            pytest.fail("g++ not found")
        pytest.skip("g++ not found")
    sources = sorted(PEERS.glob("*.cpp")) + sorted(PEERS.glob("*.h"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources) + " ".join(flags).encode()).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / "dragonfly-fix-peers" / digest
    out.mkdir(parents=True, exist_ok=True)
    bins = {}
    for name in ("qf_venue", "qf_customer", "qf_trader"):
        exe = out / name
        if not exe.exists():
            tmp = out / f"{name}.tmp{os.getpid()}"
            cmd = ["g++", "-std=c++14", "-O1", "-w", f"-I{PEERS}", "-o", str(tmp), str(PEERS / f"{name}.cpp"),
                   *flags, "-lpthread"]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                pytest.fail(f"compiling {name} failed:\n{res.stderr[-4000:]}")
            tmp.replace(exe)
        bins[name] = exe
    return bins


def settings(path: Path, *, initiator: bool, port: int, sender: str, target: str, store: Path,
             heartbeat_s: int = 1) -> Path:
    lines = [
        "[DEFAULT]",
        f"ConnectionType={'initiator' if initiator else 'acceptor'}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        f"FileStorePath={store}",
        "UseDataDictionary=Y",
        f"DataDictionary={stock_dictionary()}",
        "SocketReuseAddress=Y",
    ]
    if initiator:
        lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}", f"HeartBtInt={heartbeat_s}",
                  "ReconnectInterval=1"]
    else:
        lines += [f"SocketAcceptPort={port}"]
    lines += ["[SESSION]", "BeginString=FIX.4.4", f"SenderCompID={sender}", f"TargetCompID={target}"]
    path.write_text("\n".join(lines) + "\n")
    return path


class Peer:
    """A QuickFIX peer process: send it commands, await the lines it prints."""

    def __init__(self, exe: Path, *args: str) -> None:
        self.argv = [str(exe), *args]
        self.lines: list[str] = []
        self._cond: asyncio.Condition | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> Peer:
        self._cond = asyncio.Condition()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self.expect("READY")
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None and self._cond is not None
        async for raw in self.proc.stdout:
            async with self._cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cond.notify_all()
        async with self._cond:
            self.lines.append("<EOF>")
            self._cond.notify_all()

    def mark(self) -> int:
        """Position to search from (lines printed after now)."""
        return len(self.lines)

    async def expect(self, match: str | Callable[[str], bool], since: int = 0, timeout: float = TIMEOUT) -> str:
        """The first line at or after ``since`` that starts with ``match`` (or satisfies it)."""
        pred = (lambda s: s.startswith(match)) if isinstance(match, str) else match
        assert self._cond is not None
        found: list[str] = []

        def ready() -> bool:
            for line in self.lines[since:]:
                if pred(line):
                    found.append(line)
                    return True
            return bool(self.lines) and self.lines[-1] == "<EOF>"

        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(ready), timeout)
            except asyncio.TimeoutError:
                raise AssertionError(f"peer never printed {match!r}; output:\n" + "\n".join(self.lines[-40:])) from None
        if not found:
            raise AssertionError(f"peer exited before printing {match!r}; output:\n" + "\n".join(self.lines[-40:]))
        return found[0]

    def count(self, prefix: str, since: int = 0) -> int:
        return sum(1 for line in self.lines[since:] if line.startswith(prefix))

    async def send(self, command: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            try:
                await self.send("quit")
                await asyncio.wait_for(self.proc.wait(), 10)
            except (asyncio.TimeoutError, ConnectionError, BrokenPipeError):
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader


class Collector:
    """A ``Sink[BookUpdate]`` that lets a test await a condition on what arrived."""

    def __init__(self) -> None:
        self.items: list[BookUpdate] = []
        self._event = asyncio.Event()

    def publish(self, item: BookUpdate) -> None:
        self.items.append(item)
        self._event.set()

    async def wait_for(self, pred: Callable[[BookUpdate], bool], since: int = 0,
                       timeout: float = TIMEOUT) -> BookUpdate:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pos = since
        while True:
            while pos < len(self.items):
                item = self.items[pos]
                pos += 1
                if pred(item):
                    return item
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no matching update; last: {self.items[-3:]}")
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), left)
            except asyncio.TimeoutError:
                pass


async def wait_until(pred: Callable[[], bool], timeout: float = TIMEOUT, what: str = "condition") -> None:
    """Poll a condition that has no event of its own (checked every 10 ms; timeout is a safety net)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
