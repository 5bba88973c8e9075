"""The instruments a hedge may trade, with their prices, costs and lots.

:func:`hedge_universe` takes the instruments of a market snapshot whose symbols match a glob
pattern (``"BTC-*"``), resolves them once at the book's market, and prices each: a caller's
bid/ask where given (:class:`Quote`, in the instrument's price currency), else the mark plus or
minus the half-spread of :class:`~pmargin.optimise.TradingRules`. What a trade costs is what it
takes from equity against the mark, by the fill rules of :mod:`pmargin.book`
(:func:`pmargin.book.fill`): ``-Fill.equity_change`` in USD, linear in the quantity on each side,
so a buy of ``q >= 0`` base units costs ``q x buy_cost`` and a sell ``q x sell_cost``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from os import PathLike

import numpy as np

from pmargin._files import read_structured, short_path
from pmargin._typing import FloatArray
from pmargin.book import BookArrangement, fill
from pmargin.errors import InputError
from pmargin.instruments import Instrument, parse_symbol
from pmargin.optimise._rules import TradingRules
from pmargin.valuation import ResolvedInstruments, resolve_instruments, value_instruments

__all__ = ["HedgeUniverse", "Quote", "hedge_universe", "load_quotes"]


@dataclass(frozen=True, slots=True)
class Quote:
    """A bid and an ask, ``0 < bid <= ask``.

    In the instrument's price currency: premium currency per unit for options, quote currency
    per unit otherwise.
    """

    bid: float
    ask: float

    def __post_init__(self) -> None:
        """Check ``0 < bid <= ask`` (finite)."""
        if not (np.isfinite(self.bid) and np.isfinite(self.ask) and 0 < self.bid <= self.ask):
            raise InputError("quote", (self.bid, self.ask), "must have 0 < bid <= ask")


@dataclass(frozen=True, slots=True)
class HedgeUniverse:
    """Candidate instruments of a hedge, as arrays of shape ``(n,)``.

    Attributes
    ----------
    resolved
        The instruments resolved at the book's market.
    mark
        Mark in the price currency (premium currency per unit for options).
    bid, ask
        Sell and buy prices in the price currency.
    buy_cost, sell_cost
        USD taken from equity per base unit bought at ``ask`` / sold at ``bid`` (>= 0 when
        ``bid <= mark <= ask``).
    lot_base
        The lot in base units (``lot_native x base_per_native``).
    lot_native
        The lot in native units (the portfolio file's).
    base_per_native
        Base units per native unit at the market (the conversion :func:`pmargin.book.arrange`
        uses: ``1 / forward`` for inverse futures in USD, 1 for base-unit instruments).
    delta
        Raw delta per base unit (Black delta of options, 1 for delta-one instruments).
    buy_cash, sell_cash
        Units of the cash asset a base unit bought / sold moves into the balance (an
        option's or spot's premium: ``-ask`` and ``+bid``; 0 for futures and perpetuals).
    quoted
        Whether the prices came from a quote (else the spread rule).
    """

    resolved: ResolvedInstruments
    mark: FloatArray
    bid: FloatArray
    ask: FloatArray
    buy_cost: FloatArray
    sell_cost: FloatArray
    lot_base: FloatArray
    lot_native: FloatArray
    base_per_native: FloatArray
    delta: FloatArray
    buy_cash: FloatArray
    sell_cash: FloatArray
    quoted: tuple[bool, ...]

    def __len__(self) -> int:
        return len(self.resolved)

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """The candidate instruments."""
        return self.resolved.instruments

    @property
    def symbols(self) -> tuple[str, ...]:
        """Their symbols."""
        return tuple(i.symbol for i in self.resolved.instruments)

    def cost(self, quantity: FloatArray) -> float:
        """USD cost of trading ``quantity`` (shape ``(n,)``, signed base units)."""
        q = np.asarray(quantity, dtype=np.float64)
        return float(np.maximum(q, 0.0) @ self.buy_cost + np.maximum(-q, 0.0) @ self.sell_cost)

    def price(self, i: int, quantity: float) -> float:
        """Fill price of a trade of ``quantity`` in candidate ``i``: ask to buy, bid to sell."""
        return float(self.ask[i] if quantity > 0 else self.bid[i])

    def take(self, rows: Sequence[int]) -> HedgeUniverse:
        """Return the candidates ``rows`` alone, in that order."""
        index = np.asarray(rows, dtype=np.int64)
        return HedgeUniverse(
            resolved=self.resolved.take(index),
            mark=self.mark[index],
            bid=self.bid[index],
            ask=self.ask[index],
            buy_cost=self.buy_cost[index],
            sell_cost=self.sell_cost[index],
            lot_base=self.lot_base[index],
            lot_native=self.lot_native[index],
            base_per_native=self.base_per_native[index],
            delta=self.delta[index],
            buy_cash=self.buy_cash[index],
            sell_cash=self.sell_cash[index],
            quoted=tuple(self.quoted[int(i)] for i in index),
        )


def hedge_universe(
    book: BookArrangement,
    pattern: str,
    rules: TradingRules,
    *,
    quotes: Mapping[str, Quote] | None = None,
    explicit: Mapping[str, Instrument] | None = None,
    instruments: Sequence[Instrument] | None = None,
) -> HedgeUniverse:
    """Return the market's instruments matching ``pattern``, priced at the book's market.

    Parameters
    ----------
    book
        The book (its market, ``book.market``, lists the instruments: its marks).
    pattern
        Glob over symbols (``fnmatch``, case-sensitive): ``"BTC-*"``, ``"*PERPETUAL"``.
    rules
        Spread rule and lots for instruments without a quote.
    quotes
        Symbol -> :class:`Quote` where the caller has a bid and an ask.
    explicit
        The portfolio's explicit instruments (symbol -> instrument); other symbols are parsed
        as venue symbols.
    instruments
        The candidates themselves instead of the market's marks (a market without marks:
        the crash replay's hedging agents trade the book's own instruments), filtered by
        ``pattern`` and sorted by symbol.

    Raises
    ------
    InputError
        Field ``universe`` when nothing matches (a quote that does not bracket the mark is
        kept: its cost on that side is then negative).
    """
    known = explicit or {}
    where = "the market snapshot's marks" if instruments is None else "the candidates given"
    if instruments is None:
        symbols = sorted(s for s in book.market.marks if fnmatch.fnmatchcase(s, pattern))
        instruments = [known[s] if s in known else parse_symbol(s) for s in symbols]
    else:
        by_symbol = {i.symbol: i for i in instruments if fnmatch.fnmatchcase(i.symbol, pattern)}
        instruments = [by_symbol[s] for s in sorted(by_symbol)]
    if not instruments:
        raise InputError("universe", pattern, f"matches no instrument of {where}")
    resolved = resolve_instruments(instruments, book.market)
    values = value_instruments(resolved)
    n = len(instruments)
    mark = np.asarray(values.price, dtype=np.float64)
    bid, ask = np.empty(n), np.empty(n)
    buy, sell = np.empty(n), np.empty(n)
    buy_cash, sell_cash = np.empty(n), np.empty(n)
    lot_native, per_native = np.empty(n), np.empty(n)
    quoted: list[bool] = []
    given = quotes or {}
    for i, instrument in enumerate(instruments):
        forward = float(resolved.underlying_price[i])
        quote = given.get(instrument.symbol)
        if quote is None:
            half = rules.half_spread(instrument, float(mark[i]), forward)
            bid[i], ask[i] = max(mark[i] - half, 0.0), mark[i] + half
        else:
            bid[i], ask[i] = quote.bid, quote.ask
        quoted.append(quote is not None)
        usd = float(resolved.settlement_usd[i])
        bought = fill(instrument, 1.0, float(ask[i]), float(mark[i]))
        sold = fill(instrument, -1.0, float(bid[i]), float(mark[i]))
        buy[i], sell[i] = -bought.equity_change * usd, -sold.equity_change * usd
        buy_cash[i], sell_cash[i] = bought.cash, sold.cash
        lot_native[i] = rules.lot(instrument)
        per_native[i] = instrument.base_units(1.0, instrument.quantity_unit, forward)
    delta = np.where(resolved.is_option, values.delta, 1.0)
    return HedgeUniverse(
        resolved, mark, bid, ask, buy, sell, lot_native * per_native, lot_native, per_native,
        np.asarray(delta, dtype=np.float64), buy_cash, sell_cash, tuple(quoted),
    )  # fmt: skip


def load_quotes(path: str | PathLike[str]) -> dict[str, Quote]:
    """Read a quotes file: ``{symbol: {"bid": number, "ask": number}}`` (JSON or YAML).

    Raises
    ------
    InputError
        The file cannot be read, or an entry is not a mapping with a bid and an ask,
        ``0 < bid <= ask`` (naming the symbol).
    """
    data = read_structured(path, "quotes")
    if not isinstance(data, Mapping):
        raise InputError("quotes", short_path(path), "must map symbols to {bid, ask}")
    quotes = {}
    for symbol, entry in data.items():
        if not isinstance(entry, Mapping) or set(entry) != {"bid", "ask"}:
            raise InputError(f"quotes.{symbol}", entry, "must be {bid: number, ask: number}")
        try:
            quotes[str(symbol)] = Quote(float(entry["bid"]), float(entry["ask"]))
        except (TypeError, ValueError, InputError) as error:
            raise InputError(f"quotes.{symbol}", entry, "must have 0 < bid <= ask") from error
    return quotes
