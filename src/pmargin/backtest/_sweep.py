"""Parameter sweep of a backtest: one variant of a model per value of one parameter.

``PARAM=v1,v2,...`` names a dotted parameter of the model's TOML file (``measure.confidence``,
``scenarios.lookback_days``, ``apc.method``, ...) and its values. Each value gives one variant
of the model, built from the shipped file with that one field replaced (validated like any
user file: a bad value is an :class:`~pmargin.errors.InputError` naming the field); every
variant is backtested on the same steps and books, and the sweep reports per value the
coverage (exceptions against the expected count, books whose two-sided verdict passes, is
over-margined or under-margined) and the cost (mean IM / gross notional).
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from pmargin.backtest._engine import BacktestResult
from pmargin.errors import InputError
from pmargin.margin import MarginModel, get_model, load_parameter_file

__all__ = [
    "SWEEP_FILES",
    "SweepRow",
    "SweepSpec",
    "check_parameter",
    "parse_sweep",
    "sweep_models",
    "sweep_rows",
    "variant_model",
    "write_sweep",
]


SWEEP_FILES = ("sweep.json", "sweep.csv", "sweep.png")
"""Files :func:`write_sweep` writes."""


@dataclass(frozen=True, slots=True)
class SweepSpec:
    """One swept parameter.

    Attributes
    ----------
    model
        The model whose file is varied (``"pmargin-es"``).
    path
        Dotted field of its TOML file (``"measure.confidence"``).
    values
        The values as typed, in order.
    parsed
        Each value read as a TOML value (a number, ``true``/``false``, a quoted string), or
        the bare text when it is not one (``none`` -> ``"none"``).
    """

    model: str
    path: str
    values: tuple[str, ...]
    parsed: tuple[Any, ...]

    def label(self, k: int) -> str:
        """Name of variant ``k`` in the backtest: ``"pmargin-es[measure.confidence=0.975]"``."""
        return f"{self.model}[{self.path}={self.values[k]}]"

    @property
    def labels(self) -> tuple[str, ...]:
        """Every variant's name, in value order."""
        return tuple(self.label(k) for k in range(len(self.values)))


def _toml_value(text: str) -> tuple[Any, str]:
    """Return the value of ``text`` and its TOML spelling (bare words become quoted strings)."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
        return value, text
    except tomllib.TOMLDecodeError:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return text, f'"{escaped}"'


def check_parameter(model: str, path: str) -> None:
    """Check that the dotted ``path`` is a field (not a table) of ``model``'s shipped file.

    Raises
    ------
    InputError
        Naming ``path`` and the fields of the nearest table it reached.
    """
    table = load_parameter_file(model)
    node: Any = table.data
    where: list[str] = []
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            known = ", ".join(str(k) for k in node) if isinstance(node, Mapping) else ""
            inside = ".".join(where) or "the top level"
            raise InputError(
                "sweep", path, f"is not a parameter of {model}.toml ({inside} has: {known})"
            )
        node = node[key]
        where.append(key)
    if isinstance(node, Mapping):
        raise InputError("sweep", path, f"is a table of {model}.toml; name one of its fields")
    if path in ("name", "methodology", "schema_version"):
        raise InputError("sweep", path, "is the file's identity, not a parameter")


def variant_model(model: str, changes: Mapping[str, str], label: str) -> MarginModel:
    """Build ``model`` from its shipped file with some fields replaced.

    Parameters
    ----------
    model
        Model name (``"pmargin-es"``).
    changes
        Dotted field -> value as typed (``{"measure.confidence": "0.97", "apc.method":
        "none"}``); each field is checked with :func:`check_parameter`.
    label
        The variant's name, used in the override file's name (and so in its errors).

    Raises
    ------
    InputError
        An unknown field; a value the model's validation refuses, naming the field.
    """
    tables: dict[str, list[str]] = {}
    for path, text in changes.items():
        check_parameter(model, path)
        *parents, key = path.split(".")
        tables.setdefault(".".join(parents), []).append(f"{key} = {_toml_value(text)[1]}")
    lines = [f'base = "{model}"', *tables.pop("", [])]
    for header, entries in tables.items():
        lines += [f"[{header}]", *entries]
    safe = "".join(c if c.isalnum() or c in "._-=[]," else "_" for c in label)
    with tempfile.TemporaryDirectory(prefix="pmargin-sweep-") as folder:
        file = Path(folder) / f"{safe}.toml"
        file.write_text("\n".join(lines) + "\n")
        return get_model(model, file)


def parse_sweep(text: str, model: str) -> SweepSpec:
    """Parse ``PARAM=v1,v2,...`` for ``model`` and check that ``PARAM`` is a field of its file.

    Parameters
    ----------
    text
        ``"apc.method=floor,none"``; at least one value, no empty value.
    model
        A model name with a shipped parameter file.

    Returns
    -------
    SweepSpec
        The field and the values.

    Raises
    ------
    InputError
        ``sweep`` without ``=`` or values; a field that the model's file does not have (naming
        it and the fields of its nearest table), a field that is a whole table.
    """
    path, sep, rest = text.partition("=")
    path = path.strip()
    values = tuple(v.strip() for v in rest.split(","))
    if not sep or not path or not rest.strip() or any(not v for v in values):
        raise InputError(
            "sweep", text, "must be PARAM=v1,v2,... (e.g. measure.confidence=0.975,0.99)"
        )
    check_parameter(model, path)
    parsed = tuple(_toml_value(v)[0] for v in values)
    return SweepSpec(model=model, path=path, values=values, parsed=parsed)


def sweep_models(spec: SweepSpec) -> dict[str, MarginModel]:
    """Build one model per value: the shipped file with ``spec.path`` set to the value.

    Returns
    -------
    dict[str, MarginModel]
        Variant label -> model, in value order.

    Raises
    ------
    InputError
        A value the model's validation refuses, naming the field (``pmargin-es[...].toml:
        measure.confidence``).
    """
    return {
        spec.label(k): variant_model(spec.model, {spec.path: text}, spec.label(k))
        for k, text in enumerate(spec.values)
    }


@dataclass(frozen=True, slots=True)
class SweepRow:
    """Coverage and cost of one variant, over every book it margined.

    Attributes
    ----------
    label, value
        Variant name and the value as typed.
    books, n_obs, n_exceptions, expected_exceptions
        Books, observations, exceptions and ``p x n_obs``, summed over the books.
    books_pass, books_over, books_under
        Books whose two-sided verdict passes, whose Kupiec test rejects for too few
        exceptions, and whose Kupiec test rejects for too many or whose zone is not green.
    books_green
        Books in the green zone.
    margin_to_notional
        Mean over books of mean IM / mean gross notional.
    median_over_margin
        Median over books of the over-margin factor ``N`` (:func:`over_margin_factor`).
    """

    label: str
    value: str
    books: int
    n_obs: int
    n_exceptions: int
    expected_exceptions: float
    books_pass: int
    books_over: int
    books_under: int
    books_green: int
    margin_to_notional: float
    median_over_margin: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (non-finite numbers as ``None``)."""
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def sweep_rows(result: BacktestResult, spec: SweepSpec) -> list[SweepRow]:
    """Summarise each variant of ``spec`` in ``result`` (one row per value, in order)."""
    rows = []
    for k, label in enumerate(spec.labels):
        stats = [s for s in result.stats if s.model == label]
        if not stats:
            continue
        factors = [s.over_margin_factor for s in stats if not math.isnan(s.over_margin_factor)]
        rows.append(
            SweepRow(
                label=label,
                value=spec.values[k],
                books=len(stats),
                n_obs=sum(s.n_obs for s in stats),
                n_exceptions=sum(s.n_exceptions for s in stats),
                expected_exceptions=sum(s.expected_exceptions for s in stats),
                books_pass=sum(s.coverage_pass for s in stats),
                books_over=sum(s.kupiec_side == "too_few" for s in stats),
                books_under=sum(s.kupiec_side == "too_many" or s.zone != "green" for s in stats),
                books_green=sum(s.zone == "green" for s in stats),
                margin_to_notional=float(np.mean([s.margin_to_notional for s in stats])),
                median_over_margin=float(np.median(factors)) if factors else math.nan,
            )
        )
    return rows


def _plot(rows: list[SweepRow], spec: SweepSpec, path: Path) -> None:
    """Exceptions (over expected) against mean IM / notional, one point per value (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    x = [r.margin_to_notional for r in rows]
    y = [r.n_exceptions for r in rows]
    ax.plot(x, y, marker="o", color="C0")
    for r in rows:
        ax.annotate(
            r.value,
            (r.margin_to_notional, r.n_exceptions),
            fontsize=8,
            textcoords="offset points",
            xytext=(4, 4),
        )
    if rows:
        expected = rows[0].expected_exceptions
        ax.axhline(
            expected,
            color="grey",
            linestyle="--",
            linewidth=1,
            label=f"expected p x T = {expected:.0f}",
        )
    ax.set_xlabel("mean IM / gross notional (mean over books)")
    ax.set_ylabel("exceptions (all books)")
    ax.set_title(f"{spec.model}: sweep of {spec.path}")
    ax.legend(fontsize=8)
    fig.savefig(path, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)


def write_sweep(
    rows: list[SweepRow], spec: SweepSpec, out_dir: str | Path, *, plot: bool = True
) -> dict[str, Path]:
    """Write ``sweep.json``, ``sweep.csv`` and (``plot``) ``sweep.png`` under ``out_dir``.

    :func:`~pmargin.backtest.write_report` calls it inside the report folder it writes whole.

    Returns
    -------
    dict[str, Path]
        ``"sweep_json"``, ``"sweep_csv"`` and ``"sweep_png"`` paths.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"sweep_json": folder / "sweep.json", "sweep_csv": folder / "sweep.csv"}
    doc = {
        "model": spec.model,
        "parameter": spec.path,
        "values": list(spec.values),
        "rows": [r.to_dict() for r in rows],
    }
    paths["sweep_json"].write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    with paths["sweep_csv"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        columns = [f.name for f in fields(SweepRow)]
        writer.writerow(columns)
        for r in rows:
            d = r.to_dict()
            writer.writerow(["" if d[c] is None else d[c] for c in columns])
    if plot:
        paths["sweep_png"] = folder / "sweep.png"
        _plot(rows, spec, paths["sweep_png"])
    return paths
