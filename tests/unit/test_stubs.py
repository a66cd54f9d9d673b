"""The ``.pyi`` stubs of the compiled core, held to the compiled modules and to their pure twins.

Every compiled module ``dragonfly/_core/<name>_c.pyx`` ships a stub ``<name>_c.pyi``. Two checks keep the three
in step, so that a drift between compiled module, stub and twin fails here:

* mypy's stubtest compares each stub with the compiled module it describes (public names, parameters, defaults,
  properties, final classes); ``stubtest_allowlist.txt`` holds the little it cannot see in Cython modules;
* each stub is compared with the pure twin ``<name>_py`` (:func:`inspect.signature` of the twin against the stub
  parsed with :mod:`ast`): the same public names and, for every function, method and property, the same
  parameters (names, kinds, defaults) and the same types, type aliases expanded on both sides.

Only stubtest needs the compiled core: its tests skip in a ``DRAGONFLY_NO_EXTENSIONS=1`` run, which does not build
it, and nowhere else (a compiled module that fails to import is an error).
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import dragonfly
from dragonfly._env import NO_EXTENSIONS

PACKAGE = Path(dragonfly.__file__).resolve().parent
CORE = PACKAGE / "_core"
REPO = Path(__file__).resolve().parents[2]
ALLOWLIST = Path(__file__).with_name("stubtest_allowlist.txt")
#: The compiled modules, by the name they share with their twin (``book`` for book_c/book_py).
NAMES = sorted(p.name.removesuffix("_c.pyx") for p in CORE.glob("*_c.pyx"))

#: Where the compiled twin differs from the pure one on purpose (the stub follows the compiled module), and why.
TWIN_DIFFERENCES = {
    "fix.FixMessage.__init__": "made only by parse_message() and FixFramer.feed(): the compiled constructor raises",
    "fix.MarketData.__init__": "made only by market_data(): the compiled constructor raises TypeError",
}

#: Dunder methods that are part of a class's API; the others (__repr__, __eq__, ...) keep object's signature.
PROTOCOL_DUNDERS = frozenset({"__len__", "__iter__", "__getitem__", "__contains__", "__bool__", "__call__"})

needs_compiled_core = pytest.mark.skipif(
    NO_EXTENSIONS, reason="DRAGONFLY_NO_EXTENSIONS=1: the compiled core is not built, there is nothing to compare"
)

_NO_DEFAULT = "<no default>"
_ANY_DEFAULT = "<some default>"  # a stub's `= ...`


# -- normalised signatures ---------------------------------------------------------------------------------------


def _aliases(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level type aliases: ``X = tuple[...]`` (twin) or ``_X: TypeAlias = tuple[...]`` (stub)."""
    out: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if isinstance(node.value, (ast.Subscript, ast.BinOp)):
                out[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            if ast.unparse(node.annotation) in ("TypeAlias", "typing.TypeAlias"):
                out[node.target.id] = node.value
    return out


def _norm(annotation: object, aliases: dict[str, ast.expr]) -> str:
    """An annotation as text with the module's type aliases expanded and ``builtins.int`` written ``int``."""
    if annotation is None or annotation is inspect.Parameter.empty:
        return ""
    node = ast.parse(annotation, mode="eval").body if isinstance(annotation, str) else copy.deepcopy(annotation)

    class Expand(ast.NodeTransformer):
        def visit_Name(self, n: ast.Name) -> ast.AST:
            return self.visit(copy.deepcopy(aliases[n.id])) if n.id in aliases else n

        def visit_Attribute(self, n: ast.Attribute) -> ast.AST:
            if isinstance(n.value, ast.Name) and n.value.id == "builtins":
                return ast.Name(id=n.attr, ctx=ast.Load())
            return self.generic_visit(n)

    assert isinstance(node, ast.AST)
    return ast.unparse(Expand().visit(node))


Param = tuple[str, str, object, str]  # name, kind, default, type


def _twin_signature(fn: Any, aliases: dict[str, ast.expr]) -> tuple[list[Param], str]:
    sig = inspect.signature(fn)
    params = [
        (p.name, p.kind.name, _NO_DEFAULT if p.default is p.empty else p.default, _norm(p.annotation, aliases))
        for p in sig.parameters.values()
    ]
    return params, _norm(sig.return_annotation, aliases)


def _stub_default(node: ast.expr | None) -> object:
    if node is None:
        return _NO_DEFAULT
    if isinstance(node, ast.Constant) and node.value is Ellipsis:
        return _ANY_DEFAULT
    return ast.literal_eval(node)


def _stub_signature(fn: ast.FunctionDef, aliases: dict[str, ast.expr]) -> tuple[list[Param], str]:
    a = fn.args
    positional = a.posonlyargs + a.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
    params: list[Param] = []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = "POSITIONAL_ONLY" if i < len(a.posonlyargs) else "POSITIONAL_OR_KEYWORD"
        params.append((arg.arg, kind, _stub_default(default), _norm(arg.annotation, aliases)))
    if a.vararg is not None:
        params.append((a.vararg.arg, "VAR_POSITIONAL", _NO_DEFAULT, _norm(a.vararg.annotation, aliases)))
    for arg, kw_default in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        params.append((arg.arg, "KEYWORD_ONLY", _stub_default(kw_default), _norm(arg.annotation, aliases)))
    if a.kwarg is not None:
        params.append((a.kwarg.arg, "VAR_KEYWORD", _NO_DEFAULT, _norm(a.kwarg.annotation, aliases)))
    return params, _norm(fn.returns, aliases)


def _same_params(twin: list[Param], stub: list[Param]) -> bool:
    if len(twin) != len(stub):
        return False
    for (tn, tk, td, tt), (sn, sk, sd, st) in zip(twin, stub, strict=True):
        if (tn, tk, tt) != (sn, sk, st):
            return False
        if sd == _ANY_DEFAULT:
            if td == _NO_DEFAULT:
                return False
        elif type(td) is not type(sd) or td != sd:
            return False
    return True


def _is_property(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


def _conforms(value: object, annotation: ast.expr) -> bool:
    """``value`` is of the simple type a stub declares for a constant (``int``, ``tuple[str, ...]``, ...)."""
    if isinstance(annotation, ast.Name) and annotation.id in ("int", "float", "str", "bytes", "bool"):
        return type(value).__name__ == annotation.id
    if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value) == "tuple":
        elts = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        if len(elts) == 2 and isinstance(elts[1], ast.Constant) and elts[1].value is Ellipsis:
            return isinstance(value, tuple) and all(_conforms(v, elts[0]) for v in value)
    return False


# -- the stub against the twin -----------------------------------------------------------------------------------


def _stub_all(tree: ast.Module) -> list[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def _compare_function(path: str, twin_fn: object, stub_fn: ast.FunctionDef, ta: dict, sa: dict) -> dict[str, str]:
    twin_sig, stub_sig = _twin_signature(twin_fn, ta), _stub_signature(stub_fn, sa)
    if not _same_params(twin_sig[0], stub_sig[0]) or twin_sig[1] != stub_sig[1]:
        return {path: f"twin {twin_sig} != stub {stub_sig}"}
    return {}


def _compare_class(path: str, cls: type, node: ast.ClassDef, ta: dict, sa: dict) -> dict[str, str]:
    problems: dict[str, str] = {}
    stub_members: dict[str, ast.FunctionDef | ast.AnnAssign] = {}
    for member in node.body:
        if isinstance(member, ast.FunctionDef):
            stub_members[member.name] = member
        elif isinstance(member, ast.AnnAssign) and isinstance(member.target, ast.Name):
            stub_members[member.target.id] = member
    # the constructor: the twin's __init__ against the stub's __init__, or __new__ for a class built in __cinit__
    twin_init = vars(cls).get("__init__")
    stub_init = stub_members.get("__init__") or stub_members.get("__new__")
    if (twin_init is None) != (stub_init is None):
        problems[f"{path}.__init__"] = f"constructor in twin: {twin_init is not None}, in stub: {stub_init is not None}"
    elif twin_init is not None and isinstance(stub_init, ast.FunctionDef):
        (twin_params, _), (stub_params, _) = _twin_signature(twin_init, ta), _stub_signature(stub_init, sa)
        if not _same_params(twin_params[1:], stub_params[1:]):  # without self / cls
            problems[f"{path}.__init__"] = f"twin {twin_params[1:]} != stub {stub_params[1:]}"
    wanted = {k: v for k, v in vars(cls).items() if not k.startswith("_") or k in PROTOCOL_DUNDERS}
    for extra in sorted(set(stub_members) - set(wanted) - {"__init__", "__new__"}):
        problems[f"{path}.{extra}"] = "in the stub, not in the twin"
    for name, value in wanted.items():
        member_path = f"{path}.{name}"
        stub = stub_members.get(name)
        if stub is None:
            problems[member_path] = "in the twin, not in the stub"
        elif isinstance(value, property):
            if not (isinstance(stub, ast.FunctionDef) and _is_property(stub)):
                problems[member_path] = "a property in the twin, not in the stub"
            else:
                twin_type = _twin_signature(value.fget, ta)[1]
                stub_type = _norm(stub.returns, sa)
                if twin_type != stub_type:
                    problems[member_path] = f"property type: twin {twin_type!r} != stub {stub_type!r}"
        elif inspect.isfunction(value):
            if not isinstance(stub, ast.FunctionDef) or _is_property(stub):
                problems[member_path] = "a method in the twin, not in the stub"
            else:
                problems.update(_compare_function(member_path, value, stub, ta, sa))
        elif inspect.ismemberdescriptor(value):
            pass  # a __slots__ attribute: typed only by its docstring in the twin; stubtest checks the stub's
        else:
            problems[member_path] = f"twin member of unexpected kind {type(value).__name__}: extend this test"
    return problems


def _twin_vs_stub(name: str, stub_source: str) -> dict[str, str]:
    """Every difference between ``<name>_py`` and a stub's text, keyed by ``<name>.<qualified member>``."""
    twin: ModuleType = importlib.import_module(f"dragonfly._core.{name}_py")
    stub = ast.parse(stub_source)
    ta, sa = _aliases(ast.parse(inspect.getsource(twin))), _aliases(stub)
    problems: dict[str, str] = {}
    if sorted(_stub_all(stub)) != sorted(twin.__all__):
        problems[f"{name}.__all__"] = f"twin {sorted(twin.__all__)} != stub {sorted(_stub_all(stub))}"
    defs = {n.name: n for n in stub.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    values = {n.target.id: n for n in stub.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    for export in twin.__all__:
        obj, path = getattr(twin, export), f"{name}.{export}"
        node = defs.get(export) or values.get(export)
        if node is None:
            problems[path] = "in the twin, not in the stub"
        elif inspect.isclass(obj):
            if not isinstance(node, ast.ClassDef):
                problems[path] = "a class in the twin, not in the stub"
            else:
                problems.update(_compare_class(path, obj, node, ta, sa))
        elif inspect.isfunction(obj):
            if not isinstance(node, ast.FunctionDef):
                problems[path] = "a function in the twin, not in the stub"
            else:
                problems.update(_compare_function(path, obj, node, ta, sa))
        elif not isinstance(node, ast.AnnAssign):
            problems[path] = "a constant in the twin, not in the stub"
        elif node.value is not None:  # `X: Final = 5000`: the value itself
            stub_value = ast.literal_eval(node.value)
            if type(stub_value) is not type(obj) or stub_value != obj:
                problems[path] = f"twin {obj!r} != stub {stub_value!r}"
        elif not _conforms(obj, node.annotation):
            problems[path] = f"twin {obj!r} is not a {ast.unparse(node.annotation)}"
    return problems


def _stub_text(name: str) -> str:
    return (CORE / f"{name}_c.pyi").read_text(encoding="utf-8")


def test_every_compiled_module_has_a_stub() -> None:
    assert len(NAMES) >= 6, NAMES  # book, doc, extract, fix, merge, wire at least
    assert [n for n in NAMES if not (CORE / f"{n}_c.pyi").is_file()] == []
    assert [n for n in NAMES if not (CORE / f"{n}_py.py").is_file()] == []


@pytest.mark.parametrize("name", NAMES)
def test_stub_matches_the_pure_twin(name: str) -> None:
    problems = _twin_vs_stub(name, _stub_text(name))
    known = {k: v for k, v in problems.items() if k in TWIN_DIFFERENCES}
    assert {k: v for k, v in problems.items() if k not in TWIN_DIFFERENCES} == {}
    # each listed difference is still one (a fixed one is taken off the list)
    assert sorted(known) == sorted(k for k in TWIN_DIFFERENCES if k.startswith(f"{name}."))


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("wire", "*, spread: float | None = None", "*, spread: float | None"),  # a default dropped
        ("wire", "*, spread: float | None = None", "spread: float | None = None"),  # no longer keyword-only
        ("wire", "def encode_name_field(venue: str)", "def encode_name_field(name: str)"),  # a renamed parameter
        ("merge", "_MergedLevel: TypeAlias = tuple[str, float, float]", "_MergedLevel: TypeAlias = tuple[str, float]"),
        ("book", "    def is_crossed(self) -> bool: ...\n", ""),  # a method missing
        ("book", "def top(self, depth: int)", "def top(self, depth: int = 10)"),  # a default added
        ("book", "DEFAULT_MAX_DEPTH: Final = 5000", "DEFAULT_MAX_DEPTH: Final = 500"),  # a constant's value
        ("doc", "KIND_NAMES: tuple[str, ...]", "KIND_NAMES: tuple[int, ...]"),  # a constant's type
        ("doc", "    def root(self) -> int: ...", "    def root(self) -> str: ..."),  # a property's type
        ("fix", "    def take_errors(", "    def peek(self) -> int: ...\n    def take_errors("),  # a method added
        ("extract", "def __new__(cls, bids_path: str,", "def __new__(cls, bid_path: str,"),  # the constructor
        ("extract", '__all__ = ("extract_levels",', '__all__ = ("extract_level",'),  # the exported names
    ],
)
def test_a_drift_between_stub_and_twin_is_reported(name: str, old: str, new: str) -> None:
    source = _stub_text(name)
    assert source.count(old) == 1, f"{old!r} not in {name}_c.pyi: update this case"
    assert _twin_vs_stub(name, source.replace(old, new)).keys() - TWIN_DIFFERENCES.keys()


def _stubtest(root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m mypy.stubtest`` on every compiled module, importing ``dragonfly`` from ``root``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "mypy.stubtest", "--allowlist", str(ALLOWLIST)]
    # the project's mypy settings (ignore_missing_imports: dragonfly/model.py imports the untyped _collections)
    cmd += ["--mypy-config-file", str(REPO / "pyproject.toml")]
    cmd += [f"dragonfly._core.{name}_c" for name in NAMES]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@needs_compiled_core
def test_stubs_match_the_compiled_modules(tmp_path: Path) -> None:
    for name in NAMES:  # the compiled modules are built (else the error is the failed import, not a skip)
        assert importlib.import_module(f"dragonfly._core.{name}_c").__file__
    result = _stubtest(PACKAGE.parent, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Success: no issues found in {len(NAMES)} modules" in result.stdout


@needs_compiled_core
def test_stubtest_reports_a_drift_from_the_compiled_module(tmp_path: Path) -> None:
    """The same run on a copy of the package whose wire_c stub renamed a parameter fails and names it."""
    copy_root = tmp_path / "pkg"
    shutil.copytree(PACKAGE, copy_root / "dragonfly", ignore=shutil.ignore_patterns("*.c", "*.html", "__pycache__"))
    stub = copy_root / "dragonfly" / "_core" / "wire_c.pyi"
    text = stub.read_text(encoding="utf-8")
    assert text.count("def encode_name_field(venue: str)") == 1
    stub.write_text(text.replace("def encode_name_field(venue: str)", "def encode_name_field(name: str)"))
    result = _stubtest(copy_root, tmp_path)
    assert result.returncode != 0
    assert "dragonfly._core.wire_c.encode_name_field" in result.stdout, result.stdout + result.stderr
    assert "dragonfly._core.book_c" not in result.stdout  # only the drift is reported
