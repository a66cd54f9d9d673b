"""The stock QuickFIX data dictionary and the order-entry peer (``qf_trader``).

``stock_fix44()`` finds ``FIX44.xml`` exactly as QuickFIX ships it: ``$DRAGONFLY_FIX44_XML`` when set, else
the copy cached under ``$TMPDIR/dragonfly-fix-peers/``, else it takes it from QuickFIX's own source
distribution on PyPI (``pip download --no-deps --no-binary :all: quickfix==1.15.1``, the version Debian's
``libquickfix-dev`` packages; ``spec/FIX44.xml`` inside), unmodified. ``build_trader()`` compiles
``qf_trader.cpp`` like the other peers (``harness.build_peers``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from harness import PEERS, _require

QUICKFIX_VERSION = "1.15.1"
CACHE = Path(tempfile.gettempdir()) / "dragonfly-fix-peers"


def _skip(msg: str) -> None:
    if _require():
        pytest.fail(msg)
    pytest.skip(msg)


def stock_fix44() -> Path:
    env = os.environ.get("DRAGONFLY_FIX44_XML")
    if env:
        return Path(env)
    cached = CACHE / f"quickfix-{QUICKFIX_VERSION}-spec" / "FIX44.xml"
    if cached.is_file():
        return cached
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q", "-d", tmp,
               f"quickfix=={QUICKFIX_VERSION}"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        archives = list(Path(tmp).glob("quickfix-*.tar.gz"))
        if res.returncode != 0 or not archives:
            _skip(f"QuickFIX's FIX44.xml not available (pip download failed: {res.stderr.strip()[-300:]})")
        with tarfile.open(archives[0]) as tar:
            member = tar.extractfile(f"quickfix-{QUICKFIX_VERSION}/spec/FIX44.xml")
            if member is None:
                _skip("spec/FIX44.xml not in QuickFIX's source distribution")
            data = member.read()  # type: ignore[union-attr]
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = cached.with_suffix(f".tmp{os.getpid()}")
    tmp_file.write_bytes(data)
    tmp_file.replace(cached)
    return cached


def build_trader() -> Path:
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "quickfix"], capture_output=True, text=True,
                               check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        _skip("QuickFIX not installed (apt-get install libquickfix-dev)")
    if shutil.which("g++") is None:
        _skip("g++ not found")
    sources = [PEERS / "qf_trader.cpp", PEERS / "common.h"]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources) + " ".join(flags).encode()).hexdigest()[:16]
    out = CACHE / f"trader-{digest}"
    out.mkdir(parents=True, exist_ok=True)
    exe = out / "qf_trader"
    if not exe.exists():
        tmp = out / f"qf_trader.tmp{os.getpid()}"
        cmd = ["g++", "-std=c++14", "-O1", "-w", f"-I{PEERS}", "-o", str(tmp), str(PEERS / "qf_trader.cpp"), *flags,
               "-lpthread"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            pytest.fail(f"compiling qf_trader failed:\n{res.stderr[-4000:]}")
        tmp.replace(exe)
    return exe


def trader_settings(path: Path, *, port: int, sender: str, target: str, store: Path, dictionary: Path) -> Path:
    lines = [
        "[DEFAULT]", "ConnectionType=initiator", "StartTime=00:00:00", "EndTime=00:00:00", f"FileStorePath={store}",
        "UseDataDictionary=Y", f"DataDictionary={dictionary}", "SocketConnectHost=127.0.0.1",
        f"SocketConnectPort={port}", "HeartBtInt=5", "ReconnectInterval=1",
        "[SESSION]", "BeginString=FIX.4.4", f"SenderCompID={sender}", f"TargetCompID={target}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
