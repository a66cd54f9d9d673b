"""A NATS server for the tests (``from natsd import ...``): Debian's ``nats-server`` on 127.0.0.1, on a free port.

``.ci/run`` installs it; without it the tests that need it skip locally, and fail in CI (``CI`` set).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading

import pytest

NATS_SERVER = shutil.which("nats-server")
READY = "Server is ready"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_nats_server() -> str:
    if NATS_SERVER is None:
        if os.environ.get("CI"):
            pytest.fail("nats-server is not installed (apt-get install nats-server); CI requires it")
        pytest.skip("nats-server is not installed (apt-get install nats-server)")
    return NATS_SERVER


class NatsServer:
    """``nats-server -a 127.0.0.1 -p PORT``; :meth:`start` returns once it says it is ready; the same port
    after :meth:`kill` (a restarted server)."""

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []
        self.starts = 0

    def start(self, timeout: float = 20.0) -> None:
        assert self.proc is None
        ready = threading.Event()
        proc = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self.proc = proc

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.log.append(line)
                if READY in line:
                    ready.set()
            ready.set()  # ended: start() sees it is not running

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not ready.wait(timeout) or proc.poll() is not None:
            self.kill()
            raise AssertionError(f"nats-server did not start: {''.join(self.log)[-2000:]}")
        self.starts += 1

    def kill(self, sig: int = signal.SIGKILL) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(sig)
            proc.wait(20)
            self._pump.join(20)
            if proc.stderr is not None:
                proc.stderr.close()
