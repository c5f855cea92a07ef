"""The layer map of ../shared/ARCHITECTURE.md (and the README), checked on every import in src/grinder.

Imports point downward only. Every ``import grinder.x`` / ``from grinder.x import …`` in a
package's source is read with ``ast`` (lazy imports inside functions and ``TYPE_CHECKING`` blocks
count too), and each edge must go to a lower layer, or sideways where the map allows it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "grinder"

# rank: a package may import packages of a lower rank; same-rank imports only where SIDEWAYS says.
LAYERS: dict[str, int] = {
    "core": 0,
    "ops": 0,  # leaf: imports nothing above core
    "report": 0,  # leaf: imports nothing above core
    "venue": 1,
    "binance": 2,
    "strategy": 3,
    "risk": 3,
    "api": 3,
    "execution": 4,  # above strategy and risk
    "connector": 5,
    "reconcile": 6,  # above connector: it writes through it
    "ha": 7,
    "store": 7,
    "data": 7,
    "cli": 8,
    "config": 8,
    "config_cli": 8,
    "live": 8,
    "backtest": 8,
    "optimize": 8,
    "sim": 8,
    "chaos": 8,  # bench/chaos.py's harness: drives sim, engines, Redis as processes
}
# Applications may use each other (the demo runs the simulator in-process; the optimiser drives
# the backtester; the CLI dispatches to all of them). No other same-rank edges are allowed.
APPS = {"cli", "config", "config_cli", "live", "backtest", "optimize", "sim", "chaos"}
LEAVES = {"ops", "report"}


def _unit(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _is_unit(name: str) -> bool:
    """A package or top-level module of grinder (not an attribute such as ``__version__``)."""
    return (SRC / name).is_dir() or (SRC / f"{name}.py").is_file()


def _imported_units(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "grinder":
                names = [f"grinder.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "grinder" and len(parts) > 1 and _is_unit(parts[1]):
                found.add(parts[1])
    return found


def _edges() -> list[tuple[str, str, str]]:
    edges: list[tuple[str, str, str]] = []
    for path in sorted(SRC.rglob("*.py")):
        unit = _unit(path)
        if unit == "__init__":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target in sorted(_imported_units(tree)):
            if target != unit:
                edges.append((unit, target, str(path.relative_to(SRC.parent.parent))))
    return edges


def _allowed(src: str, dst: str) -> bool:
    if src in LEAVES:
        return dst == "core"
    if src in APPS and dst in APPS:
        return True
    return LAYERS[dst] < LAYERS[src]


def test_every_package_has_a_layer() -> None:
    units = {_unit(p) for p in SRC.rglob("*.py")} - {"__init__"}
    missing = sorted(units - LAYERS.keys())
    assert not missing, f"packages not on the layer map (add them to ARCHITECTURE.md and LAYERS): {missing}"


def test_imports_point_downward() -> None:
    edges = _edges()
    assert edges, "no grinder imports found: the scan is broken"
    wrong = sorted({f"{src} -> {dst} ({where})" for src, dst, where in edges if not _allowed(src, dst)})
    assert not wrong, "imports against the layer map:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("src", "dst", "ok"),
    [
        ("execution", "strategy", True),
        ("strategy", "execution", False),
        ("reconcile", "connector", True),
        ("connector", "reconcile", False),
        ("ops", "binance", False),
        ("report", "core", True),
        ("venue", "binance", False),
        ("live", "sim", True),
    ],
)
def test_the_rule_itself(src: str, dst: str, ok: bool) -> None:
    assert _allowed(src, dst) is ok
