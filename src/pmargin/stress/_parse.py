"""User-defined shocks: the compact ``BTC=-0.3,ETH=-0.4,vol=+0.5`` syntax and scenario files.

Compact syntax: comma-separated ``key=value`` parts.

=====================  =====================================================================
part                   meaning
=====================  =====================================================================
``BTC=-0.3``           BTC (instruments on it and BTC balances) moves by -30 %; ``-30%`` too
``vol=+0.5``           every underlying's implied vols up 50 % (relative); ``+50%`` too
``vol=+10pt``          every underlying's implied vols up 10 vol points (absolute)
``BTC.vol=-0.2``       BTC's vols only (overrides ``vol``)
``corr=0.9``           correlation stress: Monte Carlo with correlations blended 90 % toward 1
``q=0.99``             with ``corr``: the loss quantile reported
``horizon=1d``         with ``corr``: horizon of the moves (``4h``, ``1d``, ``10d``)
``n=10000``            with ``corr``: number of draws
``seed=7``             with ``corr``: seed
``lookback=365``       with ``corr``: days of history the vols and correlation are estimated on
=====================  =====================================================================

A ``corr`` shock takes vol parts but no spot moves. Every error is an
:class:`~pmargin.errors.InputError` naming the offending part.

File (JSON or YAML): ``{"scenarios": [{"name": ..., "shock": "BTC=-0.3,vol=+0.5"} | {"name",
"spot": {"BTC": -0.3}, "vol": {"*": 0.5}, "vol_points": {"ETH": 10}, "correlation": {"factor",
"level", "horizon", "n_scenarios", "seed", "lookback_days"}}]}``, or a mapping ``name ->
compact text``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any

from pmargin._files import read_structured
from pmargin._validation import abbreviate
from pmargin.errors import InputError
from pmargin.scenarios import VolShockMode, parse_mpor
from pmargin.stress._limits import shock_limits
from pmargin.stress._shock import (
    ALL_UNDERLYINGS,
    CorrelationShock,
    StressShock,
    VolShock,
)

__all__ = ["Shock", "load_shocks", "parse_shock"]

Shock = StressShock | CorrelationShock
"""A user-defined shock: deterministic moves or a correlation stress."""

_NUMBER = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(%|pts?|vp)?$", re.IGNORECASE)
_CODE = re.compile(r"^[A-Za-z0-9_]+$")
_CORR_OPTIONS = {"q", "horizon", "n", "seed", "lookback"}
_EXAMPLE = "e.g. 'BTC=-0.3,ETH=-0.4,vol=+0.5' or 'corr=0.9,q=0.99'"


def _number(part: str, text: str, *, points: bool) -> tuple[float, bool]:
    """Parse ``-0.3``, ``-30%`` (and with ``points``: ``+10pt``); return (value, is_points)."""
    match = _NUMBER.match(text.strip())
    if not match:
        suffix = ", '-30%'" + (" or '+10pt' (vol points)" if points else "")
        raise InputError("shock", part, f"has no number after '=' (write '-0.3'{suffix})")
    value = float(match.group(1))
    unit = (match.group(2) or "").lower()
    if unit and unit != "%" and not points:
        raise InputError("shock", part, "takes vol points only in a vol part ('vol=+10pt')")
    if not math.isfinite(value):
        raise InputError("shock", part, "must be finite")
    if unit == "%":
        return value / 100.0, False
    if unit:
        return value / 100.0, True
    return value, False


def parse_shock(text: str, name: str | None = None) -> Shock:
    """Parse the compact shock syntax (module docstring) into a shock.

    Parameters
    ----------
    text
        ``"BTC=-0.3,ETH=-0.4,vol=+0.5"``; spot moves relative, vols relative unless ``pt``.
    name
        Scenario name; default ``text`` itself.

    Raises
    ------
    InputError
        (field ``shock``) naming the part that is empty, has no ``=``, a bad key, a bad or
        out-of-range number, a repeated key, or a ``corr`` option without ``corr``.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("shock", text, f"is empty; {_EXAMPLE}")
    spot: dict[str, float] = {}
    vols: dict[str, VolShock] = {}
    options: dict[str, str] = {}
    seen: set[str] = set()
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise InputError("shock", text, f"has an empty part (a stray comma); {_EXAMPLE}")
        key, eq, value = (s.strip() for s in part.partition("="))
        if not eq:
            raise InputError("shock", part, f"is not key=value; {_EXAMPLE}")
        lowered = key.lower()
        if lowered in seen:
            raise InputError("shock", part, f"repeats the key {key!r}")
        seen.add(lowered)
        if lowered == "corr" or lowered in _CORR_OPTIONS:
            options[lowered] = value
            if lowered == "corr":
                options["_part"] = part
            continue
        target = _vol_target(key)
        if target is not None:
            number, is_points = _number(part, value, points=True)
            mode = VolShockMode.ABSOLUTE if is_points else VolShockMode.RELATIVE
            try:
                vols[target] = VolShock(number, mode)
            except InputError:
                raise InputError("shock", part, _vol_range(mode)) from None
            continue
        if not _CODE.match(key):
            raise InputError(
                "shock", part, "has an unknown key: use an underlying (BTC), vol, BTC.vol or corr"
            )
        move, _ = _number(part, value, points=False)
        limits = shock_limits()
        if not limits.spot_move_min < move <= limits.spot_move_max:
            low, high = limits.spot_move_min, limits.spot_move_max
            raise InputError(
                "shock",
                part,
                f"must be a relative move in ({low:g}, {high:g}] ({high:+.0%} at most)",
            )
        spot[key.upper()] = move
    label = text.strip() if name is None else name
    if "corr" not in options:
        if options:
            extra = ", ".join(sorted(options))
            raise InputError("shock", text, f"sets {extra}, which only go with corr=FACTOR")
        return StressShock(label, spot, vols, description=text.strip())
    if spot:
        raise InputError(
            "shock", options["_part"], "cannot be combined with spot moves (use two shocks)"
        )
    return _correlation_shock(label, options, vols, text.strip())


def _vol_range(mode: VolShockMode) -> str:
    """Return the accepted range of a vol part in words (from ``shock_limits.toml``)."""
    limits = shock_limits()
    if mode is VolShockMode.RELATIVE:
        low, high = limits.vol_relative_min, limits.vol_relative_max
        return f"must be a relative vol move in ({low:g}, {high:g}] ({low:+.0%} .. {high:+.0%})"
    low, high = 100 * limits.vol_points_min, 100 * limits.vol_points_max
    return f"must be a vol move in [{low:+g}pt, {high:+g}pt]"


def _vol_target(key: str) -> str | None:
    """``vol`` -> ``"*"``; ``BTC.vol`` or ``vol.BTC`` -> ``"BTC"``; otherwise ``None``."""
    parts = key.split(".")
    lowered = [p.lower() for p in parts]
    if lowered == ["vol"]:
        return ALL_UNDERLYINGS
    if len(parts) == 2 and "vol" in lowered:
        code = parts[1 - lowered.index("vol")]
        if _CODE.match(code):
            return code.upper()
    return None


def _correlation_shock(
    name: str, options: Mapping[str, str], vols: dict[str, VolShock], text: str
) -> CorrelationShock:
    def number(key: str) -> float:
        part = f"{key}={options[key]}"
        value, _ = _number(part, options[key], points=False)
        return value

    def integer(key: str) -> int:
        try:
            return int(options[key])
        except ValueError:
            raise InputError("shock", f"{key}={options[key]}", "must be an integer") from None

    kwargs: dict[str, Any] = {}
    if "q" in options:
        kwargs["level"] = number("q")
    if "horizon" in options:
        kwargs["horizon_hours"] = parse_mpor(options["horizon"], f"horizon={options['horizon']}")
    if "n" in options:
        kwargs["n_scenarios"] = integer("n")
    if "seed" in options:
        kwargs["seed"] = integer("seed")
    if "lookback" in options:
        kwargs["lookback_days"] = number("lookback")
    try:
        return CorrelationShock(name, number("corr"), vol_shocks=vols, description=text, **kwargs)
    except InputError as exc:
        part = f"{exc.field}={options[exc.field]}" if exc.field in options else exc.value
        raise InputError("shock", part, exc.reason) from None


def load_shocks(path: str | os.PathLike[str]) -> list[Shock]:
    """Read named shocks from a JSON or YAML file (format in the module docstring).

    Raises
    ------
    InputError
        Naming the file and the scenario (``scenarios[2].spot.BTC``) at fault.
    """
    doc = read_structured(path, "scenarios file")
    where = str(path)
    if isinstance(doc, Mapping) and "scenarios" in doc:
        items = doc["scenarios"]
        if not isinstance(items, list) or not items:
            raise InputError(f"{where}: scenarios", items, "must be a non-empty list")
        entries = [(f"scenarios[{i}]", item) for i, item in enumerate(items)]
    elif isinstance(doc, Mapping) and doc:
        entries = [(str(k), {"name": str(k), "shock": v}) for k, v in doc.items()]
    else:
        raise InputError(where, type(doc).__name__, "must map names to shocks or hold scenarios")
    shocks: list[Shock] = []
    for field, item in entries:
        try:
            shocks.append(_shock_entry(item))
        except InputError as exc:
            raise InputError(f"{where}: {field}.{exc.field}", exc.value, exc.reason) from None
    names = [s.name for s in shocks]
    for n in names:
        if names.count(n) > 1:
            raise InputError(f"{where}: name", n, "is used by two scenarios")
    return shocks


def _shock_entry(item: object) -> Shock:
    if not isinstance(item, Mapping):
        raise InputError("entry", item, "must be a mapping with a name and a shock")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError("name", name, "must be a non-empty string")
    known = {"name", "shock", "spot", "vol", "vol_points", "correlation", "description"}
    unknown = sorted(set(map(str, item)) - known)
    if unknown:
        raise InputError(unknown[0], item[unknown[0]], f"is not a field; known: {sorted(known)}")
    if "shock" in item:
        if set(item) - {"name", "shock", "description"}:
            raise InputError("shock", item["shock"], "goes alone: not with spot, vol, correlation")
        return parse_shock(str(item["shock"]), name)
    vols: dict[str, VolShock] = {}
    for key, mode in (("vol", VolShockMode.RELATIVE), ("vol_points", VolShockMode.ABSOLUTE)):
        for code, value in _mapping(item.get(key, {}), key).items():
            amount = value / 100.0 if mode is VolShockMode.ABSOLUTE else value
            try:
                vols[code] = VolShock(amount, mode)
            except InputError as exc:
                raise InputError(f"{key}.{code}", value, exc.reason) from None
    description = str(item.get("description", ""))
    correlation = item.get("correlation")
    if correlation is None:
        try:
            return StressShock(name, _mapping(item.get("spot", {}), "spot"), vols, description)
        except InputError as exc:
            field = exc.field.replace("spot_moves", "spot")
            raise InputError(field, exc.value, exc.reason) from None
    if not isinstance(correlation, Mapping) or "factor" not in correlation:
        raise InputError("correlation", correlation, "must be a mapping with a factor")
    if item.get("spot"):
        raise InputError("correlation", correlation, "cannot be combined with spot moves")
    allowed = {"factor", "level", "horizon", "n_scenarios", "seed", "lookback_days"}
    unknown = sorted(set(map(str, correlation)) - allowed)
    if unknown:
        raise InputError(f"correlation.{unknown[0]}", correlation[unknown[0]], "is not a field")
    args = {k: v for k, v in correlation.items() if k != "horizon"}
    if "horizon" in correlation:
        args["horizon_hours"] = parse_mpor(correlation["horizon"], "correlation.horizon")
    return CorrelationShock(name=name, vol_shocks=vols, description=description, **args)


def _mapping(value: object, field: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise InputError(field, value, "must map names to numbers, e.g. {BTC: -0.3}")
    result: dict[str, float] = {}
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise InputError(f"{field}.{key}", number, "must be a number")
        try:
            result[str(key).upper()] = float(number)
        except OverflowError:  # an integer beyond float range (10**400)
            raise InputError(f"{field}.{key}", abbreviate(number), "must be finite") from None
    return result
