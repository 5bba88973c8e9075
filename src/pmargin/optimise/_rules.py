"""The hedge optimiser's trading assumptions: the spread rule and the lots (``hedge.toml``).

Where the caller gives no bid/ask for an instrument, its half-spread per base unit comes from
:class:`TradingRules` (data, never constants in code: ``optimise/hedge.toml`` or a user's own
file with the same fields):

* options: ``max(option_min_underlying x U, option_mark_fraction x mark)`` with ``U`` one unit
  of the underlying in the option's price currency (1 coin for a coin-settled option, the
  forward for a linear one);
* futures, perpetuals and spot: ``delta_one_fraction x mark``.

Lots are the smallest tradable amounts in native units: ``option_base`` and ``linear_base``
coins, ``inverse_contracts`` contracts of an inverse contract's size (USD).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pmargin._params import read_versioned_file
from pmargin.instruments import Instrument, QuantityUnit

__all__ = ["SCHEMA_VERSION", "TradingRules", "load_trading_rules", "trading_rules_path"]

SCHEMA_VERSION = 1
"""The ``schema_version`` of ``hedge.toml`` this reader understands."""


def trading_rules_path() -> Path:
    """Path of the shipped ``hedge.toml``."""
    return Path(str(resources.files("pmargin.optimise") / "hedge.toml"))


@dataclass(frozen=True, slots=True)
class TradingRules:
    """Spread rule and lots for instruments without a quote (module docstring).

    Attributes
    ----------
    option_min_underlying
        Options: least half-spread, a fraction of one unit of the underlying (price currency).
    option_mark_fraction
        Options: half-spread as a fraction of the mark.
    delta_one_fraction
        Futures, perpetuals, spot: half-spread as a fraction of the mark.
    option_base, linear_base
        Lots of options and of linear contracts (futures, perpetuals, spot), base units.
    inverse_contracts
        Lot of inverse futures and perpetuals, in contracts of the instrument's size.
    """

    option_min_underlying: float = 0.0001
    option_mark_fraction: float = 0.03
    delta_one_fraction: float = 0.00005
    option_base: float = 0.1
    linear_base: float = 0.001
    inverse_contracts: float = 1.0

    def half_spread(self, instrument: Instrument, mark: float, underlying: float) -> float:
        """Half-spread of one base unit in the instrument's price currency.

        Parameters
        ----------
        instrument
            The instrument.
        mark
            Its mark: premium currency per unit (options; coin per coin when coin-settled),
            quote currency per unit otherwise.
        underlying
            One unit of the underlying in the quote currency (the forward or mark).
        """
        if instrument.is_option:
            unit = 1.0 if instrument.is_inverse else underlying
            return max(self.option_min_underlying * unit, self.option_mark_fraction * mark)
        return self.delta_one_fraction * mark

    def lot(self, instrument: Instrument) -> float:
        """Return the instrument's lot in its native units (:attr:`Instrument.quantity_unit`)."""
        if instrument.is_option:
            return self.option_base
        if instrument.quantity_unit is QuantityUnit.BASE:
            return self.linear_base
        if instrument.quantity_unit is QuantityUnit.CONTRACTS:
            return self.inverse_contracts
        return self.inverse_contracts * instrument.contract_size


def load_trading_rules(path: str | Path | None = None) -> TradingRules:
    """Read and validate a trading rules file (the shipped ``hedge.toml`` without ``path``).

    Raises
    ------
    InputError
        The file is missing or not TOML, or a field is missing, unknown or out of range,
        naming its dotted path.
    """
    file = trading_rules_path() if path is None else Path(path)
    top = read_versioned_file(file, "hedge trading rules", SCHEMA_VERSION, ["spread", "lots"])
    spread = top.table("spread")
    spread.reject_unknown(["option_min_underlying", "option_mark_fraction", "delta_one_fraction"])
    lots = top.table("lots")
    lots.reject_unknown(["option_base", "linear_base", "inverse_contracts"])
    return TradingRules(
        option_min_underlying=spread.number("option_min_underlying", low=0.0, high=1.0),
        option_mark_fraction=spread.number("option_mark_fraction", low=0.0, high=1.0),
        delta_one_fraction=spread.number("delta_one_fraction", low=0.0, high=0.1),
        option_base=lots.number("option_base", low=0.0, low_open=True),
        linear_base=lots.number("linear_base", low=0.0, low_open=True),
        inverse_contracts=lots.number("inverse_contracts", low=0.0, low_open=True),
    )
