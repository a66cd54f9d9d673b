"""Fixtures shared by every test.

``core_impl`` runs a test once per core implementation (``python`` and
``cython``); ``DRAGONFLY_NO_EXTENSIONS=1`` or ``--no-c-extensions`` keeps only
the pure one. When extensions are expected, a missing compiled module is an
error, never a silent skip.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

from dragonfly._env import NO_EXTENSIONS

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--no-c-extensions", action="store_true", default=False, help="test only the pure-Python core")


def _impls(config: pytest.Config) -> list[str]:
    if NO_EXTENSIONS or config.getoption("--no-c-extensions"):
        return ["python"]
    return ["python", "cython"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "core_impl" in metafunc.fixturenames:
        metafunc.parametrize("core_impl", _impls(metafunc.config), scope="session")


def core_module(name: str, impl: str) -> ModuleType:
    """Import ``dragonfly._core.<name>_py`` or ``<name>_c``."""
    suffix = {"python": "py", "cython": "c"}[impl]
    return importlib.import_module(f"dragonfly._core.{name}_{suffix}")


def _captures_dir() -> Path:
    env = os.environ.get("DRAGONFLY_CAPTURES")
    return Path(env) if env else REPO.parent / "shared" / "captures"


@pytest.fixture(scope="session")
def captures() -> Path:
    """The folder of third-party live recordings (../shared/captures).

    They are never copied into the repository; tests that need them skip
    cleanly when the folder is absent (``DRAGONFLY_CAPTURES`` overrides it).
    """
    path = _captures_dir()
    if not (path / "SOURCES.md").is_file():
        pytest.skip(f"captures not found at {path}")
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of Prometheus' ``promtool`` (Debian package ``prometheus``; ``.ci/run`` installs it).

    Missing: the test skips locally, and fails under ``CI`` (set by CI), like the QuickFIX and NATS peers.
    """
    import shutil

    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is not installed (apt-get install prometheus); CI requires it")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path
