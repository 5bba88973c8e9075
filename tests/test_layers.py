"""The layer table of DESIGN.md, checked on the source: who may import whom.

Every ``import pmargin...`` and ``from pmargin... import ...`` in ``src/pmargin`` is read with
:mod:`ast` (module level, function level and under ``TYPE_CHECKING`` alike) and mapped to the
*unit* it sits in: a package (``pmargin.margin.deribit._model`` is in ``margin``) or a
top-level module (``pmargin.timeutil``). Three rules:

1. A unit imports only what its row of the table allows (:data:`ROWS`, a transcription of
   DESIGN.md's table; :func:`test_rows_match_design` compares the two when the shared folder
   is present).
2. No unit imports another unit's private module (``pmargin.stress._episodes``) or a private
   name (``from pmargin.monitor import _x``): each package exposes its surface in its
   ``__init__``.
3. No two modules import each other at run time (imports under ``TYPE_CHECKING`` are types
   only and do not count).

What the code does not yet match is listed below as a known exception with its reason
(:data:`KNOWN_LAYER_EXCEPTIONS`, :data:`KNOWN_PRIVATE_IMPORTS`, :data:`KNOWN_MODULE_CYCLES`,
:data:`OUTSIDE_THE_TABLE`):
a new violation fails, and an exception that no longer occurs fails too, so the lists can only
shrink.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared_paths import REPO

SRC = REPO / "src" / "pmargin"
DESIGN = REPO.parent / "shared" / "DESIGN.md"

FOUNDATIONS = ("errors", "_typing", "timeutil", "_params", "_validation")

ROWS: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = (
    # (units of the row, "may import" as DESIGN.md words it, the units that text names)
    (FOUNDATIONS, "nothing of ours", ()),
    (("pricing",), "foundations", ()),
    (("instruments",), "foundations", ()),
    (("market",), "instruments", ("instruments",)),
    (("history",), "market", ("market",)),
    (("valuation",), "instruments, market, pricing", ("instruments", "market", "pricing")),
    (("book",), "instruments, market, valuation", ("instruments", "market", "valuation")),
    (("scenarios",), "market, valuation, history", ("market", "valuation", "history")),
    (("risk",), "pricing, scenarios, book", ("pricing", "scenarios", "book")),
    (("collateral",), "book", ("book",)),
    (("margin",), "risk, scenarios, collateral, book", ("risk", "scenarios", "collateral", "book")),
    (("health",), "margin", ("margin",)),
    (("pretrade", "liquidation", "monitor"), "health and below", ("health",)),
    (
        ("stress", "backtest", "simulate", "optimise"),
        "the facade and below, never each other's internals",
        ("engine", "pretrade", "liquidation", "monitor"),
    ),
    (("engine",), "everything above", ()),
    (("cli", "service", "dashboard"), "engine (and the result types)", ("engine",)),
)
"""DESIGN.md's layer table. Foundations may import each other (``timeutil`` reads its year
bounds through ``_validation``); every other unit may import the foundations, the units its
row names and, transitively, what those may import ("below"), except that no one reaches the
units of a higher row through ``engine``. ``engine`` may import every unit above it."""

OUTSIDE_THE_TABLE: dict[str, tuple[str, str]] = {
    "_files": ("errors", "reading user files with limits: foundation I/O the table omits"),
    "_yaml_file": ("errors", "_files' YAML reader, apart so PyYAML loads only for YAML files"),
    "_refusals": ("errors", "what the file readers refuse (_files, _yaml_file): their signals"),
    "_outputs": ("errors", "writing report folders whole: foundation I/O the table omits"),
    "_compiled": ("errors", "compiled kernels' switch and numba decorators: a foundation"),
    "_lazy": ("errors", "lazy package exports (PEP 562): a foundation"),
    "io": ("book", "venue importers: saved account replies to the portfolio document book reads"),
    "feeds": ("cli", "venue WebSocket feeds into pmargin serve: an adapter, as the cli row"),
}
"""Units of ``src/pmargin`` the table does not name: the row they are checked as and why."""

RESULT_TYPES: dict[str, frozenset[str]] = {
    "backtest": frozenset({"SweepRow", "SweepSpec"}),
    "book": frozenset({"Portfolio"}),
    "health": frozenset({"AccountHealth", "LiquidationDistance"}),
    "margin": frozenset({"CaptureCheck", "RiskUnitMargin"}),
    "pretrade": frozenset({"OrderCheck"}),
    "scenarios": frozenset({"VolShockKind"}),
    "simulate": frozenset({"SimulationResult"}),
    "stress": frozenset({"StressReport"}),
}
"""The result types (and the types their fields hold) the adapters' row allows them to import
from below the facade, by unit; anything else they take from there is a call around it."""

ADAPTERS = ("cli", "service", "dashboard", "feeds")

KNOWN_LAYER_EXCEPTIONS: dict[tuple[str, str], str] = {
    ("cli", "service"): "`pmargin serve` and `pmargin keys create` start the service adapter "
    "from the command line (imported when they run); DESIGN's adapter row should say that cli "
    "may launch service",
    ("cli", "feeds"): "`pmargin feed` starts the venue-feed adapter from the command line "
    "(imported when it runs), as `pmargin serve` starts the service",
}
"""``(importer, imported)`` unit pairs the table forbids that the code still has."""

KNOWN_PRIVATE_IMPORTS: dict[tuple[str, str], str] = {}
"""``(importing file, imported module or name)`` private imports across units."""

KNOWN_MODULE_CYCLES: dict[tuple[str, str], str] = {}
"""``(module, module)`` pairs, sorted, that import each other at run time."""


@dataclass(frozen=True, slots=True)
class _Import:
    """One ``pmargin`` import: the file, its line, the module and the names it takes."""

    file: Path
    line: int
    module: str
    names: tuple[str, ...]
    typing_only: bool


def _unit(module: str) -> str:
    """The unit of a dotted module name (``pmargin.margin.okx._model`` -> ``margin``)."""
    return module.split(".")[1] if "." in module else module


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _typing_blocks(tree: ast.Module) -> set[int]:
    """``id`` of every node under an ``if TYPE_CHECKING:`` block."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def _imports() -> Iterator[_Import]:
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        typing_only = _typing_blocks(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}:{node.lineno}: relative import"
                if node.module and node.module.split(".")[0] == "pmargin":
                    names = tuple(a.name for a in node.names)
                    yield _Import(path, node.lineno, node.module, names, id(node) in typing_only)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "pmargin":
                        yield _Import(path, node.lineno, alias.name, (), id(node) in typing_only)


IMPORTS = tuple(_imports())


def _row_of(unit: str) -> int:
    checked_as = OUTSIDE_THE_TABLE.get(unit, (unit, ""))[0]
    for i, (units, _, _) in enumerate(ROWS):
        if checked_as in units:
            return i
    raise AssertionError(f"unit {unit!r} is in no row of the table nor in OUTSIDE_THE_TABLE")


def _allowed(unit: str) -> set[str]:
    """Units ``unit`` may import (its own excluded), by the rules of :data:`ROWS`."""
    if unit in OUTSIDE_THE_TABLE:
        checked_as = OUTSIDE_THE_TABLE[unit][0]
        return _allowed(checked_as) | {checked_as}
    row = _row_of(unit)
    units, _, named = ROWS[row]
    if units == FOUNDATIONS:
        return set(FOUNDATIONS)
    if units == ("engine",):
        return {u for r in ROWS[:row] for u in r[0]}
    allowed = set(FOUNDATIONS)
    todo = list(named)
    while todo:
        name = todo.pop()
        if name in allowed:
            continue
        allowed.add(name)
        if name != "engine":
            todo.extend(ROWS[_row_of(name)][2])
    return allowed


def _outside_names(unit: str) -> set[str]:
    """Units outside the table checked as a unit of ``unit``'s allowed rows."""
    return {u for u, (row, _) in OUTSIDE_THE_TABLE.items() if row in _allowed(unit)}


def _layer_violations() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for imp in IMPORTS:
        src, dst = _unit(_module_name(imp.file)), _unit(imp.module)
        if src == dst or dst == "pmargin":  # the package root imports nothing of ours
            continue
        if dst in _allowed(src) or dst in _outside_names(src):
            continue
        if src in ADAPTERS and imp.names and set(imp.names) <= RESULT_TYPES.get(dst, set()):
            continue
        where = f"{imp.file.relative_to(SRC)}:{imp.line}"
        found.setdefault((src, dst), []).append(where)
    return found


def _private_imports() -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for imp in IMPORTS:
        src = _module_name(imp.file)
        if _unit(src) == _unit(imp.module):
            continue
        inner = imp.module.split(".")[2:]
        where = str(imp.file.relative_to(SRC))
        if any(p.startswith("_") for p in inner):
            found[(where, imp.module)] = f"line {imp.line}"
        for name in imp.names:
            if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
                found[(where, f"{imp.module}.{name}")] = f"line {imp.line}"
    return found


def test_every_unit_has_a_row() -> None:
    units = {_unit(_module_name(p)) for p in SRC.rglob("*.py")} - {"pmargin"}
    for unit in sorted(units):
        _row_of(unit)


def test_the_package_root_imports_nothing_of_ours() -> None:
    assert [i for i in IMPORTS if _module_name(i.file) == "pmargin"] == []


def test_imports_follow_the_layer_table() -> None:
    found = _layer_violations()
    new = {k: v for k, v in found.items() if k not in KNOWN_LAYER_EXCEPTIONS}
    gone = sorted(k for k in KNOWN_LAYER_EXCEPTIONS if k not in found)
    assert new == {}, f"imports the layer table of DESIGN.md forbids: {new}"
    assert gone == [], f"fixed, remove from KNOWN_LAYER_EXCEPTIONS: {gone}"


def test_no_private_imports_across_units() -> None:
    found = _private_imports()
    new = {k: v for k, v in found.items() if k not in KNOWN_PRIVATE_IMPORTS}
    gone = sorted(k for k in KNOWN_PRIVATE_IMPORTS if k not in found)
    assert new == {}, f"import from the package's __init__ instead: {new}"
    assert gone == [], f"fixed, remove from KNOWN_PRIVATE_IMPORTS: {gone}"


def _module_of(imp: _Import, modules: set[str]) -> set[str]:
    """Modules an import loads directly (``from a.b import c`` is ``a.b.c`` if that is one)."""
    if not imp.names:
        return {imp.module}
    subs = {f"{imp.module}.{n}" for n in imp.names} & modules
    return subs | ({imp.module} if len(subs) < len(imp.names) else set())


def test_no_runtime_import_cycle_between_modules() -> None:
    modules = {_module_name(p) for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in IMPORTS:
        if not imp.typing_only:
            src = _module_name(imp.file)
            graph[src] |= {m for m in _module_of(imp, modules) if m != src}
    cycles = [
        (a, b)
        for a in sorted(graph)
        for b in sorted(graph[a])
        if a < b and a in graph.get(b, set()) and not _is_package_surface(a, b)
    ]
    new = [c for c in cycles if c not in KNOWN_MODULE_CYCLES]
    gone = sorted(c for c in KNOWN_MODULE_CYCLES if c not in cycles)
    assert new == [], f"modules importing each other: {new}"
    assert gone == [], f"fixed, remove from KNOWN_MODULE_CYCLES: {gone}"


def _is_package_surface(a: str, b: str) -> bool:
    """A package's ``__init__`` and one of its own modules (the surface re-exports it)."""
    return b.startswith(f"{a}.") or a.startswith(f"{b}.")


def _design_rows(text: str) -> list[tuple[tuple[str, ...], str]]:
    """``(units, may import)`` of each row of DESIGN.md's layer table."""
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("layer", "---"):
            continue
        rows.append((tuple(re.findall(r"`([\w]+)`", cells[0])), cells[2].replace("`", "")))
    return rows


def test_rows_match_design() -> None:
    if not DESIGN.is_file():
        pytest.skip(f"DESIGN.md not found at {DESIGN}")
    design = _design_rows(DESIGN.read_text(encoding="utf-8"))
    assert design == [(units, text) for units, text, _ in ROWS]
