"""Every complete Python code block of README.md runs, as written, against the simulators (issue 12: the
embedded example crashed with IndexError on the first view, which has no levels while venues connect).

A ```python block is complete unless the paragraph right before it says it is a fragment; a fragment is
only compiled. Each complete block runs in a fresh interpreter with a timeout, from an empty directory.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import REPO, child_env

README = REPO / "README.md"
TIMEOUT = 120.0
_FENCE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """``(line, source, is_fragment)`` of each ```python block, in order."""
    out = []
    end = 0
    for m in _FENCE.finditer(text):
        before, end = text[end:m.start()], m.end()
        if m.group(1) != "python":
            continue
        paragraphs = [p for p in re.split(r"\n\s*\n", before) if p.strip()]
        intro = paragraphs[-1] if paragraphs else ""
        line = text.count("\n", 0, m.start()) + 1
        out.append((line, m.group(2), "fragment" in intro.lower()))
    return out


BLOCKS = python_blocks(README.read_text())


def test_the_readme_has_complete_examples() -> None:
    assert sum(not fragment for _, _, fragment in BLOCKS) >= 2


def test_python_blocks_are_found_as_a_reader_sees_them() -> None:
    text = "Intro.\n\n```python\nprint(1)\n```\n\nA fragment (names stand for your data):\n\n```python\nf(x)\n```\n" \
           "\n```toml\n[a]\n```\n"
    assert python_blocks(text) == [(3, "print(1)\n", False), (9, "f(x)\n", True)]


def test_fragments_at_least_compile() -> None:
    for line, source, fragment in BLOCKS:
        if fragment:
            compile(source, f"README.md:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize(
    "source", [pytest.param(src, id=f"line{line}") for line, src, fragment in BLOCKS if not fragment]
)
def test_complete_blocks_run_as_written(source: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    line = request.node.callspec.id.removeprefix("line")
    script = tmp_path / f"readme_line{line}.py"
    script.write_text(source)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=child_env(), capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"README.md line {line}:\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip(), f"README.md line {line} printed nothing"
