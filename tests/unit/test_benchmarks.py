"""The benchmark scripts time the compiled core or refuse to run (``benchmarks/_timing.py``).

A benchmark run from a source checkout without a build would silently time the pure-Python twins;
every script calls ``_timing.require_compiled`` first, and that exits with status 2 and a hint on how
to build when the core in use is not the compiled one.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dragonfly

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(BENCH.glob("bench_*.py"))


def _calls(tree: ast.AST, name: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            if (isinstance(fn, ast.Name) and fn.id == name) or (isinstance(fn, ast.Attribute) and fn.attr == name):
                return True
    return False


def test_there_are_benchmarks() -> None:
    assert len(SCRIPTS) >= 10, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_benchmark_requires_the_compiled_core(script: Path) -> None:
    tree = ast.parse(script.read_text(encoding="utf-8"))
    assert _calls(tree, "require_compiled"), f"{script.name} never calls _timing.require_compiled"


def _run_require_compiled(no_ext: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("DRAGONFLY_NO_EXTENSIONS", None)
    # the child imports the dragonfly under test (its cwd is benchmarks/, for _timing)
    root = str(Path(dragonfly.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    if no_ext:
        env["DRAGONFLY_NO_EXTENSIONS"] = "1"
    code = "import _timing; _timing.require_compiled('bench_x'); print('timing')"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BENCH, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_require_compiled_refuses_the_pure_core() -> None:
    done = _run_require_compiled(no_ext=True)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "timing" not in done.stdout
    assert "bench_x: refusing to time the pure-Python core" in done.stderr
    assert "build_ext --inplace" in done.stderr and "DRAGONFLY_NO_EXTENSIONS" in done.stderr


def test_require_compiled_passes_on_the_compiled_core() -> None:
    done = _run_require_compiled(no_ext=False)
    if dragonfly.core_implementation() == "cython":  # this run has the compiled core: the child has it too
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "timing"
    else:
        assert done.returncode == 2
