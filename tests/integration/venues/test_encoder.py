"""Every venue setup's simulator encoder matches its adapter and keeps the import rule (no sockets).

The encoder (``dragonfly/venues/<venue>/sim.py``) says how the simulator speaks the venue; it
must agree with the adapter on everything both know (kind of feed, snapshot source, checksum,
symbols), have every member its engine calls (:mod:`dragonfly.sim.encoder`), and import only
``dragonfly._core``, ``dragonfly.instruments``, ``dragonfly.errors``, ``dragonfly.venues.simkit``
(what encoders share; it imports only the standard library), its own folder and the standard
library (the simulators import venues, never the reverse).
"""

from __future__ import annotations

import ast
import inspect
import sys
from types import ModuleType

import dragonfly.venues.simkit
from dragonfly.instruments import parse_instrument
from dragonfly.sim.encoder import ENGINES
from dragonfly.sim.market import VenueStyle

from .cases import Case

INSTRUMENTS = ("BTC-USD", "ETH-BTC", "SOL-USDT", "DOGE-EUR")

_WS = ("symbol", "connect", "client_message", "heartbeat", "reconnect_request")
_MEMBERS = {
    "snapshot": (*_WS, "style", "sends_unchanged", "next_seq", "render", "recorded"),
    "diff": (*_WS, "snapshots", "checksum", "depth", "connection_sequence", "level", "id_step", "delta_frame",
             "snapshot_frame", "rest_symbol", "rest_body", "stamp"),
    "fix": ("symbol", "comp_id", "counterparties"),
}
_ALLOWED = ("dragonfly._core", "dragonfly.instruments", "dragonfly.errors", "dragonfly.venues.simkit")


def test_encoder_agrees_with_its_adapter(any_case: Case) -> None:
    enc, adapter = any_case.encoder(), any_case.adapter()
    assert enc.engine in ENGINES
    for name in _MEMBERS[enc.engine]:
        assert hasattr(enc, name), f"{type(enc).__name__} has no {name}"
    if enc.engine == "fix":
        assert adapter.protocol == "fix"
        assert enc.comp_id and all(isinstance(k, str) and k for k in enc.counterparties)
    else:
        assert adapter.protocol == "ws"
        assert adapter.full_book == (enc.engine == "diff")
    if enc.engine == "diff":
        assert enc.snapshots in ("stream", "rest")
        assert (enc.snapshots == "rest") == (adapter.snapshot_source == "rest")
        assert enc.checksum == adapter.checksum
        assert isinstance(enc.depth, int) and enc.depth >= 1
        assert isinstance(enc.connection_sequence, bool)
        for name in INSTRUMENTS:  # the simulator serves what the feed subscribes to
            inst = parse_instrument(name)
            assert enc.symbol(inst) == adapter.symbol(inst)
    if enc.engine == "snapshot":
        VenueStyle(**dict(enc.style))  # every key a field
        assert isinstance(enc.sends_unchanged, bool)


def _imports(module: ModuleType) -> list[str]:
    """The absolute names of the modules ``module`` imports (relative imports resolved)."""
    folder = module.__name__.rsplit(".", 1)[0]
    tree = ast.parse(inspect.getsource(module))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names = [node.module or ""]
            elif node.level == 1:
                names = [f"{folder}.{node.module}" if node.module else folder]
            else:
                base = folder.rsplit(".", node.level - 1)[0]
                names = [f"{base}.{node.module}" if node.module else base]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += names
    return found


def _stdlib(name: str) -> bool:
    top = name.split(".")[0]
    return (top != "dragonfly" and top in sys.stdlib_module_names) or name == "__future__"


def test_encoder_imports_no_simulator(any_case: Case) -> None:
    module = sys.modules[type(any_case.encoder()).__module__]
    folder = module.__name__.rsplit(".", 1)[0]
    for name in _imports(module):
        ok = name == folder or name.startswith(folder + ".") or name.startswith(_ALLOWED) or _stdlib(name)
        assert ok, f"{module.__name__} imports {name}"


def test_encoder_kit_imports_only_the_standard_library() -> None:
    """What every encoder may import stays below the simulators: nothing of dragonfly at all."""
    names = _imports(dragonfly.venues.simkit)
    assert names, "no imports found: the check reads nothing"
    for name in names:
        assert _stdlib(name), f"dragonfly.venues.simkit imports {name}"
