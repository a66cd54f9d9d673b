"""Layer 5 (``dragonfly.services``) never imports ``dragonfly.topology``, directly or through another module.

Two views of the same rule: the import statements in the source (every one, including those inside functions
and under ``TYPE_CHECKING``, followed through dragonfly's own modules), and what importing each services module
really loads.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import dragonfly

PACKAGE = Path(dragonfly.__file__).resolve().parent
FORBIDDEN = "dragonfly.topology"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """dragonfly modules that ``name`` (at ``path``) names in any import statement."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # ``from pkg import sub`` imports the module ``pkg.sub`` when there is one
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            # ``import a.b.c`` names a.b.c; keep the longest dragonfly module it denotes
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts:
                found.add(".".join(parts))
    return found


def _path_to(start: str, goal: str, graph: dict[str, set[str]]) -> list[str] | None:
    """Shortest import chain from ``start`` to ``goal``, or None."""
    prev: dict[str, str | None] = {start: None}
    todo = [start]
    while todo:
        nxt = []
        for mod in todo:
            for dep in sorted(graph.get(mod, ())):
                if dep in prev:
                    continue
                prev[dep] = mod
                if dep == goal:
                    chain = [dep]
                    while prev[chain[-1]] is not None:
                        chain.append(prev[chain[-1]])  # type: ignore[arg-type]
                    return chain[::-1]
                nxt.append(dep)
        todo = nxt
    return None


def _service_modules() -> list[str]:
    return sorted(m for m in _modules() if m == "dragonfly.services" or m.startswith("dragonfly.services."))


def test_the_import_graph_is_read() -> None:
    """The walker finds real edges (so a clean result below means something)."""
    mods = _modules()
    graph = {m: _imports(m, p, set(mods)) for m, p in mods.items()}
    assert FORBIDDEN in graph["dragonfly.cli"]  # a lazy import inside a function counts
    assert "dragonfly.services.embedded" in graph[FORBIDDEN]
    assert _path_to(FORBIDDEN, "dragonfly.queues", graph) is not None
    assert "dragonfly.services.grpc.server" in graph["dragonfly.services.grpc"]
    assert len(_service_modules()) >= 8


@pytest.mark.parametrize("module", _service_modules())
def test_no_services_module_imports_topology_in_its_source(module: str) -> None:
    mods = _modules()
    graph = {m: _imports(m, p, set(mods)) for m, p in mods.items()}
    chain = _path_to(module, FORBIDDEN, graph)
    assert chain is None, " -> ".join(chain or ())


def test_importing_every_services_module_loads_no_topology() -> None:
    code = (
        "import importlib, json, sys\n"
        f"mods = {_service_modules()!r}\n"
        "culprit = None\n"
        "for m in mods:\n"
        "    importlib.import_module(m)\n"
        f"    if culprit is None and {FORBIDDEN!r} in sys.modules:\n"
        "        culprit = m\n"
        "print(json.dumps({'imported': len(mods), 'culprit': culprit}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"imported": len(_service_modules()), "culprit": None}
