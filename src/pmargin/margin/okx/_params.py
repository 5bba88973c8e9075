"""OKX portfolio margin parameters: read from ``methodologies/okx.toml`` and validated.

Every number of the model comes from the file; this module only checks types and bounds and
turns coin groups into per-underlying lookups. Errors name the dotted field, e.g.
``okx.toml: mr6.moves.majors``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType
from typing import Generic, TypeVar

from pmargin._params import ParamTable
from pmargin.errors import InputError
from pmargin.scenarios import VolShockKind, VolShockMode, VolShockRule

__all__ = ["SCHEMA_VERSION", "CoinTable", "MinimumChargeScale", "OkxParams"]

SCHEMA_VERSION = 2
"""Layout version of ``okx.toml`` this code reads."""

DEFAULT_KEY = "default"
"""Key of a coin table's value for coins in none of its groups."""

_V = TypeVar("_V")

_TOP = (
    "schema_version",
    "methodology",
    "effective",
    "assumed",
    "groups",
    "margin",
    "mr1",
    "mr2",
    "mr3",
    "mr4",
    "mr5",
    "mr6",
    "mr7",
    "mr8",
)
_MR4_FORMS = ("annual_rate_times_years",)
_MR7_KINDS = ("future", "perpetual", "option")
_SHOCK_KINDS = ("perpetual", "future")
_SHOCK_PRICES = ("index", "mark")


@dataclass(frozen=True, slots=True)
class CoinTable(Generic[_V]):
    """A value per coin group with a default: ``lookup("BTC")``.

    Attributes
    ----------
    by_coin
        Underlying (upper case) -> value, for coins in a group the table names.
    default
        Value for every other underlying.
    """

    by_coin: Mapping[str, _V]
    default: _V

    def lookup(self, underlying: str) -> _V:
        """Return the value for ``underlying`` (its group's, else the default)."""
        return self.by_coin.get(underlying.upper(), self.default)


@dataclass(frozen=True, slots=True)
class MinimumChargeScale:
    """A progressive scaling table of the raw MR7 (see :func:`progressive_scale`).

    Attributes
    ----------
    bounds
        Tier upper bounds, USD, strictly increasing, ``> 0``.
    multipliers
        One multiplier per tier, ``len(bounds) + 1`` of them, each ``> 0``.
    """

    bounds: tuple[float, ...]
    multipliers: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class OkxParams:
    """Validated contents of ``okx.toml`` (see that file and docs/margin-okx.md).

    Attributes
    ----------
    im_factor
        IMR / MMR per risk unit (1.3).
    mr1_moves
        Positive relative spot moves per coin; the grid is ``0`` and ``+-`` each.
    mr1_shock_price
        Kind (``perpetual``, ``future``) -> ``"index"`` or ``"mark"``: the price a spot move
        multiplies for linear contracts of that kind.
    mr1_vol_scenarios, mr6_vol_scenarios
        Vol shock directions of the MR1 grid and the MR6 extreme moves.
    vol_rule
        Size of MR1/MR6 vol shocks by days to expiry.
    mr2_days
        Days of time decay of MR2 (``>= 0``).
    mr3_vol_shift
        Absolute vol shift (decimal) per expiry of MR3.
    mr4_annual_move
        Annualised forward move (decimal per year) per coin of MR4.
    mr4_perpetual_move
        Relative move of a perpetual's mark against the index per coin of MR4.
    mr5_rate_shift
        Shift of the discount rate (decimal per year) of MR5.
    mr6_moves
        Extreme relative move per coin, in (0, 1).
    mr6_weight
        Factor in (0, 1] on the extreme-move loss.
    mr7_rates
        Contract kind (``future``, ``perpetual``, ``option``) -> raw MR7 per USD of the
        position's value at the mark (options: of the underlying's notional), per coin.
    mr7_scaling
        Progressive scaling table per coin.
    mr8_enabled
        Whether the borrowing charge (MR8) is computed.
    mr8_mmr_rate, mr8_imr_rate
        Borrowing MMR and IMR per USD borrowed, per borrowed currency.
    assumed
        Dotted paths of the parameters OKX does not publish.
    source
        Name of the file read.
    """

    im_factor: float
    mr1_moves: CoinTable[tuple[float, ...]]
    mr1_shock_price: Mapping[str, str]
    mr1_vol_scenarios: tuple[VolShockKind, ...]
    vol_rule: VolShockRule
    mr2_days: float
    mr3_vol_shift: float
    mr4_annual_move: CoinTable[float]
    mr4_perpetual_move: CoinTable[float]
    mr5_rate_shift: float
    mr6_moves: CoinTable[float]
    mr6_weight: float
    mr6_vol_scenarios: tuple[VolShockKind, ...]
    mr7_rates: Mapping[str, CoinTable[float]]
    mr7_scaling: CoinTable[MinimumChargeScale]
    mr8_enabled: bool
    mr8_mmr_rate: CoinTable[float]
    mr8_imr_rate: CoinTable[float]
    assumed: tuple[str, ...]
    source: str

    @classmethod
    def from_table(cls, table: ParamTable) -> OkxParams:
        """Validate a parsed ``okx.toml``.

        Raises
        ------
        InputError
            Naming the first missing, unknown or out-of-range field.
        """
        table.reject_unknown(_TOP)
        table.check_header(SCHEMA_VERSION, "okx")
        groups = _groups(table.table("groups"))
        margin = table.table("margin")
        margin.reject_unknown(("im_factor", "source"))
        _source(margin)
        mr1 = table.table("mr1")
        mr1.reject_unknown(("source", "vol_scenarios", "moves", "shock_price", "vol_shock"))
        _source(mr1)
        mr1_moves = _coin_table(mr1.table("moves"), groups, _move_list)
        lengths = {len(v) for v in (*mr1_moves.by_coin.values(), mr1_moves.default)}
        if len(lengths) != 1:
            raise InputError(
                mr1.field("moves"),
                dict(mr1.table("moves").data),
                "must list as many moves per group",
            )
        mr6 = table.table("mr6")
        mr6.reject_unknown(("source", "weight", "vol_scenarios", "moves"))
        _source(mr6)
        mr7 = table.table("mr7")
        mr7.reject_unknown(("source", "rates", "scaling"))
        _source(mr7)
        rates = mr7.table("rates")
        rates.reject_unknown(_MR7_KINDS)
        shock_price = mr1.table("shock_price")
        shock_price.reject_unknown(_SHOCK_KINDS)
        mr8 = table.table("mr8")
        mr8.reject_unknown(("source", "enabled", "mmr_rate", "imr_rate"))
        _source(mr8)
        params = cls(
            im_factor=margin.number("im_factor", low=1.0, high=10.0),
            mr1_moves=mr1_moves,
            mr1_shock_price=MappingProxyType(
                {k: shock_price.text(k, choices=_SHOCK_PRICES) for k in _SHOCK_KINDS}
            ),
            mr1_vol_scenarios=_vol_kinds(mr1, "vol_scenarios"),
            vol_rule=_vol_rule(mr1.table("vol_shock")),
            mr2_days=_simple(table, "mr2", "days", high=30.0),
            mr3_vol_shift=_simple(table, "mr3", "vol_shift", high=1.0),
            mr4_annual_move=_mr4(table.table("mr4"), groups, "annual_move", high=10.0),
            mr4_perpetual_move=_mr4(table.table("mr4"), groups, "perpetual_move", high=0.5),
            mr5_rate_shift=_simple(table, "mr5", "rate_shift", high=1.0),
            mr6_moves=_coin_table(mr6.table("moves"), groups, _extreme_move),
            mr6_weight=mr6.number("weight", low=0.0, high=1.0, low_open=True),
            mr6_vol_scenarios=_vol_kinds(mr6, "vol_scenarios"),
            mr7_rates=MappingProxyType(
                {kind: _coin_table(rates.table(kind), groups, _rate) for kind in _MR7_KINDS}
            ),
            mr7_scaling=_coin_table(mr7.table("scaling"), groups, _scale),
            mr8_enabled=_flag(mr8, "enabled"),
            mr8_mmr_rate=_coin_table(mr8.table("mmr_rate"), groups, _rate),
            mr8_imr_rate=_coin_table(mr8.table("imr_rate"), groups, _rate),
            assumed=table.field_paths("assumed"),
            source=table.where,
        )
        return params


def _source(table: ParamTable) -> None:
    text = table.text("source")
    if not text.strip():
        raise InputError(table.field("source"), text, "must say where the values come from")


def _simple(table: ParamTable, name: str, key: str, *, high: float) -> float:
    sub = table.table(name)
    sub.reject_unknown(("source", key))
    _source(sub)
    return sub.number(key, low=0.0, high=high)


def _mr4(table: ParamTable, groups: _Groups, key: str, *, high: float) -> CoinTable[float]:
    table.reject_unknown(("source", "form", "annual_move", "perpetual_move"))
    _source(table)
    table.text("form", choices=_MR4_FORMS)
    return _coin_table(table.table(key), groups, lambda t, k: t.number(k, low=0.0, high=high))


def _rate(table: ParamTable, key: str) -> float:
    return table.number(key, low=0.0, high=1.0)


def _flag(table: ParamTable, key: str) -> bool:
    value = table.raw(key)
    if not isinstance(value, bool):
        raise InputError(table.field(key), value, "must be true or false")
    return value


@dataclass(frozen=True, slots=True)
class _Groups:
    """Coin groups of ``[groups]``: members, and which groups a user's file added.

    Attributes
    ----------
    members
        Group name -> coin codes (upper case).
    added
        Names of the groups a user's file adds to the shipped ``okx.toml`` (see
        :meth:`ParamTable.added`); their values take precedence in every table that has them.
    """

    members: Mapping[str, tuple[str, ...]]
    added: frozenset[str]


def _groups(table: ParamTable) -> _Groups:
    groups: dict[str, tuple[str, ...]] = {}
    for name in table.data:
        if name == DEFAULT_KEY:
            raise InputError(table.field(name), name, f"{DEFAULT_KEY!r} is reserved")
        value = table.raw(name)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(c, str) and c.strip() for c in value)
        ):
            raise InputError(table.field(name), value, "must be a non-empty list of coin codes")
        groups[name] = tuple(c.strip().upper() for c in value)
    return _Groups(MappingProxyType(groups), frozenset(table.added()))


def _coin_table(
    table: ParamTable,
    groups: _Groups,
    read: Callable[[ParamTable, str], _V],
) -> CoinTable[_V]:
    """Map each coin of each named group to ``read(table, group)``; ``default`` required.

    A coin takes the value of the one group naming it among the table's keys; where a group a
    user's file adds and a shipped group both name it, the added group's value is taken. Two
    shipped groups, or two added groups, naming one coin in one table is an error.
    """
    for key in table.data:
        if key != DEFAULT_KEY and key not in groups.members:
            close = difflib.get_close_matches(key, list(groups.members), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(
                table.field(key),
                table.raw(key),
                f"is not a coin group (groups: {sorted(groups.members)}, or {DEFAULT_KEY!r}){hint}",
            )
    by_coin: dict[str, _V] = {}
    for added in (False, True):  # the shipped groups, then the added ones over them
        owner: dict[str, str] = {}
        for key in table.data:
            if key == DEFAULT_KEY or (key in groups.added) != added:
                continue
            value = read(table, key)
            for coin in groups.members[key]:
                if owner.get(coin, key) != key:
                    also = ", which the user's file adds too" if added else ""
                    rule = "" if added else " (a group a user's file adds wins over these)"
                    raise InputError(
                        table.field(key),
                        coin,
                        f"is also in group {owner[coin]!r}{also}: a coin may have one value "
                        f"per table{rule}",
                    )
                owner[coin] = key
                by_coin[coin] = value
    return CoinTable(MappingProxyType(by_coin), read(table, DEFAULT_KEY))


def _move_list(table: ParamTable, key: str) -> tuple[float, ...]:
    moves = table.numbers(key, min_len=1)
    for i, move in enumerate(moves):
        if not 0.0 < move < 1.0:
            raise InputError(f"{table.field(key)}[{i}]", move, "must be a relative move in (0, 1)")
    if any(b <= a for a, b in pairwise(moves)):
        raise InputError(table.field(key), list(moves), "must be strictly increasing")
    return moves


def _extreme_move(table: ParamTable, key: str) -> float:
    return table.number(key, low=0.0, high=1.0, low_open=True, high_open=True)


def _scale(table: ParamTable, key: str) -> MinimumChargeScale:
    sub = table.table(key)
    sub.reject_unknown(("bounds", "multipliers"))
    bounds = sub.numbers("bounds", low=0.0)
    multipliers = sub.numbers("multipliers", low=0.0)
    if any(b <= 0.0 for b in bounds) or any(b <= a for a, b in pairwise(bounds)):
        raise InputError(sub.field("bounds"), list(bounds), "must be strictly increasing and > 0")
    if len(multipliers) != len(bounds) + 1 or any(m <= 0.0 for m in multipliers):
        raise InputError(
            sub.field("multipliers"),
            list(multipliers),
            f"must be {len(bounds) + 1} numbers > 0 (one per tier, the last unbounded)",
        )
    return MinimumChargeScale(bounds, multipliers)


def _vol_kinds(table: ParamTable, key: str) -> tuple[VolShockKind, ...]:
    value = table.raw(key)
    choices = "|".join(k.value for k in VolShockKind)
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value):
        raise InputError(table.field(key), value, f"must be a non-empty list of {choices}")
    kinds = []
    for i, item in enumerate(value):
        try:
            kinds.append(VolShockKind(str(item)))
        except ValueError:
            raise InputError(f"{table.field(key)}[{i}]", item, f"is not one of {choices}") from None
    return tuple(kinds)


def _vol_rule(table: ParamTable) -> VolShockRule:
    table.reject_unknown(
        (
            "mode",
            "range_up",
            "range_down",
            "short_power",
            "long_power",
            "pivot_days",
            "dte_floor_days",
            "min_vol_for_shock_up",
            "min_vol",
        )
    )
    mode = table.text("mode", choices=tuple(m.value for m in VolShockMode))
    cap = math.inf if mode == VolShockMode.ABSOLUTE else 1.0
    return VolShockRule(
        range_up=table.number("range_up", low=0.0, high=10.0),
        range_down=table.number("range_down", low=0.0, high=cap, high_open=True),
        mode=VolShockMode(mode),
        short_power=table.number("short_power", low=0.0, high=5.0),
        long_power=table.number("long_power", low=0.0, high=5.0),
        pivot_days=table.number("pivot_days", low=0.0, low_open=True),
        dte_floor_days=table.number("dte_floor_days", low=0.0, low_open=True),
        min_vol_for_shock_up=table.number("min_vol_for_shock_up", 0.0, low=0.0),
        min_vol=table.number("min_vol", low=0.0, low_open=True),
    )
