"""The architecture, checked: the layer contracts in pyproject.toml ([tool.importlinter]) hold,
no generic module names a venue, and importing a layer never loads a higher one.

``import-linter`` reads every import statement of the package (those inside functions and under
``TYPE_CHECKING`` included). The contracts say: ``_core`` < ``clients`` < ``listeners`` < ``venues``
< ``aggregators`` | ``bus`` | ``sim`` < ``services`` < ``topology`` < ``cli``, a layer never importing a
higher one (so there is no cycle between layers); the shared modules (errors, model,
instruments, queues) import no layer; the core imports nothing of dragonfly but errors, model
and the build switches; aggregators and services know no venue (nor the bus); only the bus's
worker knows venues.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dragonfly

importlinter_cli = pytest.importorskip("importlinter.cli", reason="import-linter is in the test extra")

PACKAGE = Path(dragonfly.__file__).resolve().parent
PYPROJECT = PACKAGE.parent / "pyproject.toml"


def test_layer_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    if not PYPROJECT.is_file():
        pytest.fail(f"no pyproject.toml beside the package at {PACKAGE}")
    code = importlinter_cli.lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 broken" in out and "kept" in out


def _venue_folders() -> list[Path]:
    return [p for p in (PACKAGE / "venues").iterdir() if p.is_dir() and (p / "__init__.py").is_file()]


def _venue_names() -> set[str]:
    from dragonfly.venues import venue_names

    names = set(venue_names())
    # a venue folder's own name too (the registry name may carry a suffix, e.g. "binance-diff")
    names |= {p.name for p in _venue_folders() if not p.name.startswith("_")}
    return names


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """Every string constant in the code of ``path`` that is not a docstring."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_venue_name_in_generic_code() -> None:
    """A venue lives in its folder: generic code (everything else) never names one in its code."""
    names = _venue_names()
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")
    own = {p.resolve() for folder in _venue_folders() for p in folder.rglob("*.py")}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.resolve() in own:
            continue
        for line, text in _string_constants(path):
            m = pattern.search(text.lower())
            if m:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}")
    assert not found, "venue names in generic code:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("layer", "higher"),
    [
        ("dragonfly._core", ["dragonfly.clients", "dragonfly.listeners", "dragonfly.venues", "dragonfly.services"]),
        (
            "dragonfly.clients",
            ["dragonfly.listeners", "dragonfly.venues", "dragonfly.aggregators", "dragonfly.services"],
        ),
        (
            "dragonfly.listeners",
            ["dragonfly.venues", "dragonfly.aggregators", "dragonfly.services", "dragonfly.topology"],
        ),
        ("dragonfly.venues", ["dragonfly.aggregators", "dragonfly.services", "dragonfly.sim", "dragonfly.topology"]),
        ("dragonfly.services", ["dragonfly.topology", "dragonfly.venues", "dragonfly.sim", "dragonfly.bus"]),
        ("dragonfly.bus", ["dragonfly.aggregators", "dragonfly.services", "dragonfly.sim", "dragonfly.topology"]),
    ],
)
def test_importing_a_layer_loads_no_higher_one(layer: str, higher: list[str]) -> None:
    """What really gets imported (dynamic imports included: the registry loads every venue folder)."""
    modules = sorted(
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in (PACKAGE / layer.split(".", 1)[1]).rglob("*.py")
    )
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n    importlib.import_module(m)\n"
        "if 'dragonfly.venues.registry' in sys.modules:\n"
        "    sys.modules['dragonfly.venues.registry'].venue_names()\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    bad = [m for m in loaded for h in higher if m == h or m.startswith(h + ".")]
    assert not bad, f"importing {layer} loaded {bad}"
