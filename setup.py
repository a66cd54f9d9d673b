"""Build script: the Cython core, and the protobuf/gRPC code generated from proto/.

Knobs (environment):
  DRAGONFLY_NO_EXTENSIONS=1   build a pure-Python wheel (no compiler needed)
  DRAGONFLY_CYTHON_TRACE=1    compile with line tracing (coverage, profiling)
  DRAGONFLY_CYTHON_ANNOTATE=1 write Cython's HTML annotation next to each .pyx
  DRAGONFLY_SANITIZE=address  build with AddressSanitizer (-fsanitize=address)
  DRAGONFLY_DEBUG=1           -O0 -g, no NDEBUG
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def _load_env():
    # dragonfly/_env.py is the one parser of DRAGONFLY_NO_EXTENSIONS, shared with
    # the runtime; load it by path because the package is not importable yet.
    spec = importlib.util.spec_from_file_location("_dragonfly_env", HERE / "dragonfly" / "_env.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


_env = _load_env()


def _generate_protos() -> None:
    """proto/**/*.proto -> dragonfly/services/grpc/_gen/**/*_pb2{,_grpc}.py{,i} (not committed).

    ``proto/a/b/c.proto`` becomes ``dragonfly.services.grpc._gen.a.b.c_pb2``; each
    generated folder gets an ``__init__.py`` so the package finder ships it.
    """
    import re

    src = HERE / "proto"
    out = HERE / "dragonfly" / "services" / "grpc" / "_gen"
    protos = sorted(src.rglob("*.proto"))
    if not protos or not out.is_dir():
        return
    rel = [p.relative_to(src).with_suffix("") for p in protos]  # e.g. dragonfly/v1/book
    try:
        from grpc_tools import protoc
    except ImportError:
        if all((out / r.parent / (r.name + "_pb2.py")).exists() for r in rel):
            return  # generated earlier (e.g. sdist); nothing to do
        raise SystemExit("grpcio-tools is required to build dragonflybot (it generates code from proto/)") from None
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    for proto in protos:
        args = [
            "grpc_tools.protoc",
            f"-I{src}",
            f"-I{include}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            str(proto.relative_to(src)),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {proto}")
    for r in rel:
        folder = out / r.parent
        while folder != out:
            (folder / "__init__.py").touch()
            folder = folder.parent
    # grpc_tools writes imports as if proto/ were on sys.path ("import orderbook_pb2",
    # "from dragonfly.v1 import book_pb2"); make ours absolute under the _gen package.
    # Imports of other modules (google.protobuf's well-known types) are left alone.
    ours = {".".join(r.parts[:-1]): set() for r in rel}
    for r in rel:
        ours[".".join(r.parts[:-1])].add(r.name + "_pb2")
    base = "dragonfly.services.grpc._gen"

    def fix(match: re.Match[str]) -> str:
        pkg, mod, alias = match.group("pkg") or "", match.group("mod"), match.group("alias")
        if mod not in ours.get(pkg, ()):
            return match.group(0)
        return f"from {base}{'.' + pkg if pkg else ''} import {mod} as {alias}"

    pattern = re.compile(r"^(?:from (?P<pkg>[\w.]+) )?import (?P<mod>\w+_pb2) as (?P<alias>\w+)$", re.M)
    for path in list(out.rglob("*_pb2*.py")) + list(out.rglob("*_pb2*.pyi")):
        text = path.read_text()
        path.write_text(pattern.sub(fix, text))


def _extensions():
    if _env.NO_EXTENSIONS:
        print("DRAGONFLY_NO_EXTENSIONS is set: building the pure-Python package", file=sys.stderr)
        return []
    from Cython.Build import cythonize
    from setuptools import Extension

    debug = _env.env_flag("DRAGONFLY_DEBUG")
    sanitize = os.environ.get("DRAGONFLY_SANITIZE", "").strip()
    trace = _env.env_flag("DRAGONFLY_CYTHON_TRACE")
    cflags = ["-O0", "-g"] if debug or sanitize else ["-O3"]
    ldflags: list[str] = []
    if sanitize:
        cflags += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer"]
        ldflags += [f"-fsanitize={sanitize}"]
    macros = [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")] if trace else []
    exts = [
        Extension(
            "dragonfly._core." + pyx.stem,
            [str(pyx.relative_to(HERE))],
            extra_compile_args=cflags,
            extra_link_args=ldflags,
            define_macros=macros,
        )
        for pyx in sorted((HERE / "dragonfly" / "_core").glob("*_c.pyx"))
    ]
    directives = {
        "language_level": "3",
        "boundscheck": False,
        "wraparound": False,
        "cdivision": True,
        "initializedcheck": False,
        "embedsignature": True,
        "linetrace": trace,
    }
    return cythonize(exts, compiler_directives=directives, annotate=_env.env_flag("DRAGONFLY_CYTHON_ANNOTATE"))


_generate_protos()
setup(ext_modules=_extensions())
