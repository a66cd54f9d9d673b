"""The compiled extractor under AddressSanitizer on the fuzz corpus.

``run_sanitized.sh`` builds ``extract_c`` with ``-fsanitize=address`` in a
temporary copy, proves the sanitizer catches a deliberate one-byte over-read,
then feeds the generated and mutated corpus through the cdef API on exact-size
buffers and through the Python API, comparing each result with the pure twin.
"""

from __future__ import annotations

import os
import shutil
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


def _copy_sources(dst: Path) -> None:
    """The files needed to build and unit-test the package, without anything built."""
    repo = HERE.parent.parent
    skip = shutil.ignore_patterns("*.so", "*.c", "*.html", "__pycache__", "node_modules", ".hypothesis", "_pb2*")
    for name in ("dragonfly", "proto", "tests", "examples", "benchmarks"):
        shutil.copytree(repo / name, dst / name, ignore=skip)
    for name in ("setup.py", "pyproject.toml", "README.md", "constraints-build.txt"):
        shutil.copy2(repo / name, dst / name)


@pytest.mark.slow
@pytest.mark.skipif(NO_EXTENSIONS, reason="the sanitizer run checks the compiled twins; this is the pure-Python run")
def test_core_unit_tests_under_address_sanitizer(tmp_path: Path) -> None:
    """Every compiled core module built with -fsanitize=address, then the whole unit
    suite (hypothesis cases, captures when present) run against that build: any
    invalid read or write aborts the run with a report."""
    _copy_sources(tmp_path)
    env = dict(os.environ, DRAGONFLY_SANITIZE="address", TMPDIR=str(tmp_path))
    env.pop("DRAGONFLY_NO_EXTENSIONS", None)
    build = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    built = sorted((tmp_path / "dragonfly" / "_core").glob("*_c.*.so"))
    assert len(built) == len(list((tmp_path / "dragonfly" / "_core").glob("*_c.pyx")))
    for so in built:  # really instrumented
        assert b"__asan_report_load" in so.read_bytes(), so.name

    libasan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True)
    env.update(LD_PRELOAD=libasan.stdout.strip(), ASAN_OPTIONS="detect_leaks=0:abort_on_error=1")
    captures = HERE.parent.parent.parent / "shared" / "captures"
    if "DRAGONFLY_CAPTURES" not in env and captures.is_dir():
        env["DRAGONFLY_CAPTURES"] = str(captures)
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import dragonfly, dragonfly._core.book_c as m; print(dragonfly.core_implementation(), m.__file__)",
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    impl, _, path = where.stdout.strip().partition(" ")
    assert impl == "cython" and path.startswith(str(tmp_path)), where.stdout + where.stderr
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/unit"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500,
    )
    out = run.stdout + run.stderr
    assert "AddressSanitizer" not in out, out[-6000:]
    assert run.returncode == 0, out[-6000:]
