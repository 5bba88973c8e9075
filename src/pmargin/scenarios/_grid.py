"""Build the standard (and extended) risk-matrix grid of price moves x vol shocks."""

from __future__ import annotations

from collections.abc import Sequence

from pmargin.errors import InputError
from pmargin.scenarios._checks import as_enum, as_float
from pmargin.scenarios._scenario import RiskMatrixScenario, VolShockKind

__all__ = ["risk_matrix_grid"]

_VOL_ORDER = {VolShockKind.DOWN: 0, VolShockKind.NONE: 1, VolShockKind.UP: 2}


def risk_matrix_grid(
    price_range: float,
    buckets_per_side: int,
    vol_scenarios: Sequence[VolShockKind | str] = ("down", "none", "up"),
    *,
    extended_moves: Sequence[float] = (),
    extended_weight: float = 1.0,
    extended_vol_scenarios: Sequence[VolShockKind | str] = ("none",),
    underlyings: Sequence[str] | None = None,
) -> tuple[RiskMatrixScenario, ...]:
    """Scenarios of a risk matrix: evenly spaced price moves times vol shocks, plus tails.

    Deribit's standard table is ``risk_matrix_grid(0.16, 4)``: moves -16%, -12%, ..., +16%
    (9 buckets including 0) times vol down / none / up, 27 scenarios.

    Order: for each underlying (in the given order; one block when ``underlyings`` is None),
    the standard grid by price move from lowest to highest and, within a move, by vol in the
    order down, none, up (Deribit's 27-entry risk vector order) whatever order
    ``vol_scenarios`` is given in; then the extended moves in the given order, each times
    ``extended_vol_scenarios`` (same vol order).

    Parameters
    ----------
    price_range
        Largest relative move of the standard grid, in (0, 1): 0.16 = +-16%.
    buckets_per_side
        Number of moves ``b`` on each side of 0 (>= 1); the grid has ``2 * b + 1`` moves
        ``price_range * k / b`` for ``k = -b..b``.
    vol_scenarios
        Vol shock directions of the standard grid (non-empty, no repeats).
    extended_moves
        Tail moves (relative, each > -1), e.g. ``(-0.66, -0.33, 0.5, 1.0)``.
    extended_weight
        Dampening factor in (0, 1] on the tail scenarios.
    extended_vol_scenarios
        Vol shock directions of the tail scenarios (Deribit uses vol up only: ``("up",)``).
    underlyings
        ``None``: scenarios move every underlying together. Names: one block of scenarios per
        underlying, each moving only that underlying.

    Returns
    -------
    tuple[RiskMatrixScenario, ...]
        The scenarios in the order above; standard ones have weight 1.
    """
    price_range = as_float(
        price_range, "price_range", low=0.0, high=1.0, low_open=True, high_open=True
    )
    if isinstance(buckets_per_side, bool) or not isinstance(buckets_per_side, int):
        raise InputError("buckets_per_side", buckets_per_side, "must be an integer >= 1")
    if buckets_per_side < 1:
        raise InputError("buckets_per_side", buckets_per_side, "must be an integer >= 1")
    standard_vols = _vol_kinds(vol_scenarios, "vol_scenarios")
    tail_vols = _vol_kinds(extended_vol_scenarios, "extended_vol_scenarios")
    tails = [
        as_float(m, f"extended_moves[{i}]", low=-1.0, low_open=True)
        for i, m in enumerate(extended_moves)
    ]
    extended_weight = as_float(extended_weight, "extended_weight", low=0.0, high=1.0, low_open=True)
    blocks: list[str | None] = [None] if underlyings is None else _names(underlyings)

    b = buckets_per_side
    moves = [price_range * k / b for k in range(-b, b + 1)]
    result: list[RiskMatrixScenario] = []
    for underlying in blocks:
        for move in moves:
            result += [_scenario(move, kind, 1.0, underlying) for kind in standard_vols]
        for move in tails:
            result += [_scenario(move, kind, extended_weight, underlying) for kind in tail_vols]
    return tuple(result)


def _scenario(
    move: float, kind: VolShockKind, weight: float, underlying: str | None
) -> RiskMatrixScenario:
    label = f"{underlying or 'all'} {move * 100:+.4g}% vol {kind.value}"
    return RiskMatrixScenario(move, kind, weight, underlying, 0.0, label)


def _vol_kinds(values: Sequence[VolShockKind | str], field: str) -> list[VolShockKind]:
    if isinstance(values, str):
        raise InputError(field, values, "must be a sequence such as ('down', 'none', 'up')")
    kinds = [as_enum(VolShockKind, v, f"{field}[{i}]") for i, v in enumerate(values)]
    if not kinds or len(set(kinds)) != len(kinds):
        raise InputError(field, tuple(values), "must be non-empty without repeats")
    return sorted(kinds, key=_VOL_ORDER.__getitem__)


def _names(underlyings: Sequence[str]) -> list[str | None]:
    if isinstance(underlyings, str):
        raise InputError("underlyings", underlyings, "must be a sequence of names, e.g. ['BTC']")
    names: list[str | None] = []
    for i, name in enumerate(underlyings):
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"underlyings[{i}]", name, "must be a non-empty name such as 'BTC'")
        names.append(name)
    if not names or len(set(names)) != len(names):
        raise InputError("underlyings", tuple(underlyings), "must be non-empty without repeats")
    return names
