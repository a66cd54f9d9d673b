"""The compiled extractor under AddressSanitizer on the fuzz corpus.

``run_sanitized.sh`` builds ``extract_c`` with ``-fsanitize=address`` in a
temporary copy, proves the sanitizer catches a deliberate one-byte over-read,
then feeds the generated and mutated corpus through the cdef API on exact-size
buffers and through the Python API, comparing each result with the pure twin.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dragonfly._env import NO_EXTENSIONS

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
@pytest.mark.skipif(NO_EXTENSIONS, reason="the sanitizer run checks the compiled twin; this is the pure-Python run")
def test_extract_under_address_sanitizer(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHON=sys.executable, TMPDIR=str(tmp_path))
    proc = subprocess.run(
        ["bash", str(HERE / "run_sanitized.sh"), "--scale", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "ERROR: AddressSanitizer" not in out
