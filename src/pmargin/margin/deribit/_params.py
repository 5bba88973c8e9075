"""Deribit portfolio-margin parameters (``methodologies/deribit.toml``), validated on load.

The file follows the ``model_params`` object of Deribit's ``private/pme/simulate``: a
``[general]`` table, one ``[currency_pair.<coin>_usd]`` table per underlying (grid and vol
shocks) and one ``[currency.<ccy>]`` table per settlement or collateral currency (roll shock,
offsets, dampener, haircut); pmargin adds ``[model]`` (S:PM or X:PM) and ``[assumptions]`` (its
reading of what Deribit does not publish). Every field is read with bounds, and a bad one is an
:class:`~pmargin.errors.InputError` naming it (``"deribit.toml: currency.btc.pnl_offset"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from pmargin._params import ParamTable
from pmargin.errors import InputError
from pmargin.scenarios import VolShockMode, VolShockRule

__all__ = [
    "DampenerMode",
    "DeltaShockMode",
    "DeribitAssumptions",
    "DeribitCurrencyParams",
    "DeribitGeneralParams",
    "DeribitMode",
    "DeribitPairParams",
    "DeribitParams",
    "ExtendedWeighting",
    "RollShockBasis",
    "pair_key",
]


class DeribitMode(StrEnum):
    """Deribit's two portfolio-margin models."""

    SEGREGATED = "segregated"
    """S:PM: one risk unit per underlying and settlement currency, amounts in that currency."""
    CROSS = "cross"
    """X:PM: one USD risk unit per underlying; collateral balances move with the scenarios."""


class DampenerMode(StrEnum):
    """How ``extended_dampener`` acts on an extended-table cell (unpublished; see the docs)."""

    DISTANCE = "distance"
    """``min(0, pnl + (max(|m| / price_range, 1) - 1) * dampener)``: a deductible growing with
    the distance of the move (USD, converted to coin at the edge price); the default."""
    SUBTRACT = "subtract"
    """``min(0, pnl + dampener)``: the dampener is a deductible on extended losses."""
    THRESHOLD = "threshold"
    """``pnl if pnl < -dampener else 0``: extended losses below the dampener are ignored."""


class ExtendedWeighting(StrEnum):
    """How much of an extended-table cell's P&L counts (unpublished; see the docs)."""

    DISTANCE = "distance"
    """``extended_table_factor * price_range / |m|`` times the USD P&L at move ``m``, converted
    to coin at the edge price ``(1 + sign(m) * price_range)``; every instrument is revalued at
    ``m`` (a delta-one contract then lands exactly on its edge value). The default."""
    FULL = "full"
    """``extended_table_factor`` times the P&L at move ``m``, with delta-one instruments held at
    the +-``price_range`` edge: the earlier reading."""


class RollShockBasis(StrEnum):
    """What the roll shock is charged on (unpublished for options; see the docs)."""

    NET_DELTA_PER_EXPIRY = "net_delta_per_expiry"
    """``sum over expiries |sum q_i delta_i|``: legs of one expiry net; options enter through
    their Black delta. The default."""
    ABS_SIZE = "abs_size"
    """``sum_i |q_i|``: every leg its full size, long and short never net: the earlier reading."""


class DeltaShockMode(StrEnum):
    """Delta-shock add-on (Deribit publishes its parameters, not its formula)."""

    OFF = "off"
    """No delta shock (0), as in every published example."""
    EXCESS = "excess"
    """``max_delta_shock * max(0, |net USD delta| - delta_total_liq_shock_threshold)``."""


def pair_key(underlying: str) -> str:
    """Name of the ``[currency_pair.*]`` table of an underlying: ``"BTC"`` -> ``"btc_usd"``."""
    return f"{underlying.lower()}_usd"


@dataclass(frozen=True, slots=True)
class DeribitPairParams:
    """Grid and vol-shock parameters of one underlying (``[currency_pair.<coin>_usd]``).

    Attributes
    ----------
    price_range
        Largest relative move of the standard table, in (0, 1): 0.16 = +-16%.
    volatility_range_up, volatility_range_down
        Relative vol shocks at 30 days (decimal; 0.5 = +50% of the vol).
    short_term_vega_power, long_term_vega_power
        Tenor-scaling exponents below / at or above 30 days to expiry.
    min_volatility_for_shock_up
        Floor on the vol of "up" scenarios (decimal).
    extended_table_factor
        Fraction (>= 0) of the extended-table P&L that counts.
    delta_total_liq_shock_threshold
        USD net delta above which the delta shock applies.
    max_delta_shock
        Delta-shock fraction in [0, 1].
    m_inc
        Published, undocumented size increment; kept for reference, not used.
    """

    price_range: float
    volatility_range_up: float
    volatility_range_down: float
    short_term_vega_power: float
    long_term_vega_power: float
    min_volatility_for_shock_up: float
    extended_table_factor: float
    delta_total_liq_shock_threshold: float
    max_delta_shock: float
    m_inc: float

    @classmethod
    def from_table(cls, table: ParamTable) -> DeribitPairParams:
        """Read and validate one ``[currency_pair.*]`` table."""
        table.reject_unknown(_PAIR_FIELDS)
        return cls(
            price_range=table.number(
                "price_range", low=0.0, high=1.0, low_open=True, high_open=True
            ),
            volatility_range_up=table.number("volatility_range_up", low=0.0),
            volatility_range_down=table.number(
                "volatility_range_down", low=0.0, high=1.0, high_open=True
            ),
            short_term_vega_power=table.number("short_term_vega_power", low=0.0),
            long_term_vega_power=table.number("long_term_vega_power", low=0.0),
            min_volatility_for_shock_up=table.number("min_volatility_for_shock_up", low=0.0),
            extended_table_factor=table.number("extended_table_factor", low=0.0),
            delta_total_liq_shock_threshold=table.number(
                "delta_total_liq_shock_threshold", low=0.0
            ),
            max_delta_shock=table.number("max_delta_shock", low=0.0, high=1.0),
            m_inc=table.number("m_inc", 0.0, low=0.0),
        )


_PAIR_FIELDS = tuple(DeribitPairParams.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class DeribitCurrencyParams:
    """Parameters of one currency (``[currency.<ccy>]``), settlement or collateral.

    Attributes
    ----------
    min_annualised_move
        Floor of the roll-shock move per base unit (decimal).
    annualised_move_risk
        Roll-shock move per year to expiry (decimal per year).
    pnl_offset
        Fraction in [0, 1] of a positive aggregated P&L cell that counts.
    max_offsetable_pnl
        Cap (USD, >= 0) on the positive P&L that counts in a cell.
    extended_dampener
        USD (>= 0) by which extended-table cells are dampened (see :class:`DampenerMode`).
    haircut
        Collateral haircut in [0, 1) (X:PM).
    equity_side_impact
        ``"both"``: a balance of this currency moves with its underlying's scenarios (X:PM);
        ``"none"``: it does not.
    correlation_set
        Published flag; correlation contingencies are not modelled (0).
    """

    min_annualised_move: float
    annualised_move_risk: float
    pnl_offset: float
    max_offsetable_pnl: float
    extended_dampener: float
    haircut: float
    equity_side_impact: str
    correlation_set: bool

    @classmethod
    def from_table(cls, table: ParamTable) -> DeribitCurrencyParams:
        """Read and validate one ``[currency.*]`` table."""
        table.reject_unknown(_CURRENCY_FIELDS)
        flag = table.raw("correlation_set", False)
        if not isinstance(flag, bool):
            raise InputError(table.field("correlation_set"), flag, "must be true or false")
        return cls(
            min_annualised_move=table.number("min_annualised_move", low=0.0),
            annualised_move_risk=table.number("annualised_move_risk", low=0.0),
            pnl_offset=table.number("pnl_offset", low=0.0, high=1.0),
            max_offsetable_pnl=table.number("max_offsetable_pnl", low=0.0),
            extended_dampener=table.number("extended_dampener", low=0.0),
            haircut=table.number("haircut", low=0.0, high=1.0, high_open=True),
            equity_side_impact=table.text("equity_side_impact", choices=("both", "none")),
            correlation_set=flag,
        )


_CURRENCY_FIELDS = tuple(DeribitCurrencyParams.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class DeribitGeneralParams:
    """Account-wide parameters (``[general]``).

    Attributes
    ----------
    mm_factor
        Maintenance margin as a fraction in (0, 1] of the risk-matrix margin.
    buckets_count
        Price buckets per side of 0 (>= 1): the standard table has ``2 * buckets_count + 1``.
    vol_scenarios_count
        Vol scenarios per bucket; only 3 (down, none, up) is supported.
    extended_moves
        Extended-table relative price moves (each > -1), revalued with vol up.
    """

    mm_factor: float
    buckets_count: int
    vol_scenarios_count: int
    extended_moves: tuple[float, ...]

    @classmethod
    def from_table(cls, table: ParamTable) -> DeribitGeneralParams:
        """Read and validate ``[general]``."""
        table.reject_unknown(("timestamp", *_GENERAL_FIELDS))
        count = table.integer("vol_scenarios_count", low=1)
        if count != 3:
            raise InputError(
                table.field("vol_scenarios_count"), count, "must be 3 (vol down, none, up)"
            )
        moves = table.numbers("extended_moves", ())
        for i, move in enumerate(moves):
            if move <= -1.0:
                raise InputError(f"{table.field('extended_moves')}[{i}]", move, "must be > -1")
        return cls(
            mm_factor=table.number("mm_factor", low=0.0, high=1.0, low_open=True),
            buckets_count=table.integer("buckets_count", low=1),
            vol_scenarios_count=count,
            extended_moves=moves,
        )


_GENERAL_FIELDS = tuple(DeribitGeneralParams.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class DeribitAssumptions:
    """pmargin's reading of what Deribit does not publish (``[assumptions]``).

    Attributes
    ----------
    extended_weighting
        How much of an extended cell's P&L counts (:class:`ExtendedWeighting`).
    extended_dampener_mode
        How the dampener acts (:class:`DampenerMode`).
    roll_shock_basis
        What the roll shock is charged on (:class:`RollShockBasis`).
    delta_shock
        Delta-shock formula (:class:`DeltaShockMode`), ``"off"`` by default.
    vol_shock_pivot_days, vol_shock_dte_floor_days
        Tenor scaling ``range * (pivot / max(DTE, floor)) ** power`` (days, > 0).
    min_vol
        Floor (> 0, decimal) on every shocked vol.
    """

    extended_weighting: ExtendedWeighting = ExtendedWeighting.DISTANCE
    extended_dampener_mode: DampenerMode = DampenerMode.DISTANCE
    roll_shock_basis: RollShockBasis = RollShockBasis.NET_DELTA_PER_EXPIRY
    delta_shock: DeltaShockMode = DeltaShockMode.OFF
    vol_shock_pivot_days: float = 30.0
    vol_shock_dte_floor_days: float = 1.0
    min_vol: float = 0.01

    @classmethod
    def from_table(cls, table: ParamTable) -> DeribitAssumptions:
        """Read and validate ``[assumptions]`` (every field optional, defaults as above)."""
        table.reject_unknown(_ASSUMPTION_FIELDS)
        d = cls()
        return cls(
            extended_weighting=ExtendedWeighting(
                table.text(
                    "extended_weighting", d.extended_weighting, choices=_values(ExtendedWeighting)
                )
            ),
            extended_dampener_mode=DampenerMode(
                table.text(
                    "extended_dampener_mode",
                    d.extended_dampener_mode,
                    choices=_values(DampenerMode),
                )
            ),
            roll_shock_basis=RollShockBasis(
                table.text("roll_shock_basis", d.roll_shock_basis, choices=_values(RollShockBasis))
            ),
            delta_shock=DeltaShockMode(
                table.text("delta_shock", d.delta_shock, choices=_values(DeltaShockMode))
            ),
            vol_shock_pivot_days=table.number("vol_shock_pivot_days", 30.0, low=0.0, low_open=True),
            vol_shock_dte_floor_days=table.number(
                "vol_shock_dte_floor_days", 1.0, low=0.0, low_open=True
            ),
            min_vol=table.number("min_vol", 0.01, low=0.0, low_open=True),
        )

    def reading(self) -> str:
        """One line naming the reading of the unpublished parts (printed with option books)."""
        weighting = {
            ExtendedWeighting.DISTANCE: "extended cells x factor x price_range/|m| (distance)",
            ExtendedWeighting.FULL: "extended cells x factor, delta-one at the edge (full)",
        }[self.extended_weighting]
        dampener = {
            DampenerMode.DISTANCE: "dampener x (|m|/price_range - 1) (distance)",
            DampenerMode.SUBTRACT: "flat dampener deductible (subtract)",
            DampenerMode.THRESHOLD: "losses under the dampener ignored (threshold)",
        }[self.extended_dampener_mode]
        roll = {
            RollShockBasis.NET_DELTA_PER_EXPIRY: "roll shock on net delta per expiry",
            RollShockBasis.ABS_SIZE: "roll shock on every leg's size (abs_size)",
        }[self.roll_shock_basis]
        return (
            f"deribit reading of unpublished parts (option books): {weighting}; {dampener}; "
            f"{roll}; delta shock {self.delta_shock.value}"
        )


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    """Return the accepted spellings of a choice."""
    return tuple(m.value for m in enum)


_ASSUMPTION_FIELDS = tuple(DeribitAssumptions.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class DeribitParams:
    """Every parameter of the Deribit model, validated.

    Attributes
    ----------
    mode
        S:PM or X:PM (``[model] mode``).
    general
        ``[general]``.
    pairs
        ``"btc_usd"`` -> grid parameters of that underlying.
    currencies
        ``"btc"`` -> parameters of that currency.
    assumptions
        ``[assumptions]``.
    source
        Name of the file read, for error messages.
    """

    mode: DeribitMode
    general: DeribitGeneralParams
    pairs: MappingProxyType[str, DeribitPairParams]
    currencies: MappingProxyType[str, DeribitCurrencyParams]
    assumptions: DeribitAssumptions
    source: str = "deribit.toml"

    @classmethod
    def from_table(cls, table: ParamTable) -> DeribitParams:
        """Validate a whole parameter file (the output of ``load_parameter_file``).

        Raises
        ------
        InputError
            Naming the first missing, unknown or out-of-range field.
        """
        table.reject_unknown(("model", "general", "assumptions", "currency_pair", "currency"))
        model = table.table("model", {})
        model.reject_unknown(("mode",))
        mode = DeribitMode(
            model.text("mode", "segregated", choices=tuple(m.value for m in DeribitMode))
        )
        pair_tables = table.table("currency_pair")
        currency_tables = table.table("currency")
        pair_names = pair_tables.keys()
        pairs = {k: DeribitPairParams.from_table(pair_tables.table(k)) for k in pair_names}
        currency_names = currency_tables.keys()
        currencies = {
            k: DeribitCurrencyParams.from_table(currency_tables.table(k)) for k in currency_names
        }
        for key in (*pairs, *currencies):
            if key != key.lower():
                raise InputError(table.field(key), key, "table names must be lower case")
        return cls(
            mode=mode,
            general=DeribitGeneralParams.from_table(table.table("general")),
            pairs=MappingProxyType(pairs),
            currencies=MappingProxyType(currencies),
            assumptions=DeribitAssumptions.from_table(table.table("assumptions", {})),
            source=table.where,
        )

    def pair(self, underlying: str) -> DeribitPairParams:
        """Grid parameters of ``underlying``; missing ones are an error naming the table to add."""
        key = pair_key(underlying)
        if key not in self.pairs:
            raise InputError(
                f"{self.source}: currency_pair.{key}",
                underlying,
                f"has no Deribit parameters: add a [currency_pair.{key}] table "
                f"(known: {', '.join(self.pairs) or 'none'})",
            )
        return self.pairs[key]

    def currency(self, currency: str) -> DeribitCurrencyParams:
        """Parameters of ``currency``; missing ones are an error naming the table to add."""
        key = currency.lower()
        if key not in self.currencies:
            raise InputError(
                f"{self.source}: currency.{key}",
                currency,
                f"has no Deribit parameters: add a [currency.{key}] table "
                f"(known: {', '.join(self.currencies) or 'none'})",
            )
        return self.currencies[key]

    def vol_rule(self, underlying: str) -> VolShockRule:
        """Return the tenor-scaled relative vol shocks of ``underlying``'s options."""
        pair = self.pair(underlying)
        a = self.assumptions
        return VolShockRule(
            range_up=pair.volatility_range_up,
            range_down=pair.volatility_range_down,
            mode=VolShockMode.RELATIVE,
            short_power=pair.short_term_vega_power,
            long_power=pair.long_term_vega_power,
            pivot_days=a.vol_shock_pivot_days,
            dte_floor_days=a.vol_shock_dte_floor_days,
            min_vol_for_shock_up=pair.min_volatility_for_shock_up,
            min_vol=a.min_vol,
        )
