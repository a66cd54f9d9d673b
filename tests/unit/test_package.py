"""The package surface: implementation selection and the one environment parser."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

import dragonfly
from dragonfly._env import NO_EXTENSIONS, env_flag


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True), (" TRUE ", True), ("yes", True), ("on", True),
        ("0", False), ("", False), ("off", False), ("No", False),
    ],
)
def test_env_flag_values(raw: str, expected: bool) -> None:
    assert env_flag("X", {"X": raw}) is expected


def test_env_flag_unset_is_false() -> None:
    assert env_flag("X", {}) is False


def test_env_flag_rejects_typos() -> None:
    with pytest.raises(ValueError, match="DRAGONFLY_NO_EXTENSIONS"):
        env_flag("DRAGONFLY_NO_EXTENSIONS", {"DRAGONFLY_NO_EXTENSIONS": "ture"})


def test_core_implementation_matches_environment() -> None:
    assert dragonfly.core_implementation() == ("python" if NO_EXTENSIONS else "cython")


@pytest.mark.parametrize(("value", "expected"), [("1", "python"), ("0", "cython")])
def test_core_implementation_in_fresh_interpreter(value: str, expected: str) -> None:
    if expected == "cython" and importlib.util.find_spec("dragonfly._core.extract_c") is None:
        expected = "python"  # a pure build: no compiled modules to select
    env = dict(os.environ, DRAGONFLY_NO_EXTENSIONS=value)
    out = subprocess.run(
        [sys.executable, "-c", "import dragonfly; print(dragonfly.core_implementation())"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert out == expected


def test_core_modules_follow_the_selection() -> None:
    from dragonfly._core import book, extract, fix, merge, wire

    suffix = "_py" if NO_EXTENSIONS else "_c"
    selectors = ((extract, "extract_levels"), (merge, "merge_levels"), (wire, "encode_summary"), (book, "Book"))
    for selector, name in selectors:
        assert getattr(selector, name).__module__.endswith(suffix), (selector.__name__, name)
    assert fix.__name__  # imported without error


def test_public_names_resolve() -> None:
    for name in dragonfly.__all__:
        assert getattr(dragonfly, name) is not None
    with pytest.raises(AttributeError):
        dragonfly.does_not_exist  # noqa: B018
