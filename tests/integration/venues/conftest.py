"""Fixtures of the shared venue contract, parametrised over the registry.

A test asks for one of these arguments and runs once per matching case (ids like
``kraken`` or ``kraken[v2]``); nothing here names a venue:

``case``            every diff-feed setup: a venue with a simulator, its ``SIM_VARIANTS``, the template
``loss_case``       ... whose protocol can show a lost delta (sequence rule, checksum, or a
                    connection-wide frame number)
``sequenced_case``  ... whose sequence rule sees a lost or reordered delta as a gap
``guarded_case``    ... whose protocol guards each instrument's book (such a rule, or a checksum)
``checksum_case``   ... that send a checksum
``heartbeat_case``  ... that send heartbeats of their own
``any_case``        every setup, whatever its engine (top-N snapshots, diff, FIX)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .cases import Case, all_cases, diff_cases

_CASES: dict[str, Callable[[Case], bool]] = {
    "case": lambda c: True,
    "loss_case": lambda c: c.loss_signal is not None,
    "sequenced_case": lambda c: c.detects_loss,
    "guarded_case": lambda c: c.detects_loss or c.checksum is not None,
    "checksum_case": lambda c: c.checksum is not None,
    "heartbeat_case": lambda c: c.heartbeat is not None,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for name, keep in _CASES.items():
        if name in metafunc.fixturenames:
            cases = [c for c in diff_cases() if keep(c)]
            metafunc.parametrize(name, cases, ids=[c.id for c in cases])
    if "any_case" in metafunc.fixturenames:
        cases = all_cases()
        metafunc.parametrize("any_case", cases, ids=[c.id for c in cases])
