"""What a feed follows: the underlyings and instruments of the service's market on one venue.

The service says what it holds through its market in force (``GET /v1/market``, the
market-file form): every symbol of its ``marks`` that is this venue's (futures, perpetuals,
options; spot is left out), and the underlyings of its ``index`` that the venue publishes an
index for. ``--underlying`` narrows both to the codes named; ``--instrument`` adds symbols.
Symbols are parsed by the library (:func:`pmargin.engine.instruments_for`), never here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pmargin.errors import InputError, PmarginError
from pmargin.feeds._types import VenueTick

__all__ = ["Followed", "Universe", "universe_for"]


@dataclass(frozen=True, slots=True)
class Followed:
    """One instrument a feed follows.

    Attributes
    ----------
    symbol
        The venue's symbol (the service's too).
    underlying, quote
        Its underlying and quote currency codes (``BTC``, ``USD`` / ``USDC`` / ``USDT``).
    option
        True for options (an implied-vol tick), False for futures and perpetuals (a mark).
    inverse
        True for coin-settled contracts.
    """

    symbol: str
    underlying: str
    quote: str
    option: bool
    inverse: bool


@dataclass(frozen=True, slots=True)
class Universe:
    """The underlyings and instruments a feed posts ticks for.

    Attributes
    ----------
    underlyings
        Codes whose index is posted (and whose staleness is watched).
    instruments
        Followed instruments by symbol.
    skipped
        ``symbol -> reason`` for the service's symbols not followed (another venue's, spot,
        unparseable, another underlying).
    source
        Where the universe came from: ``"service"`` or ``"command line"``.
    """

    underlyings: frozenset[str]
    instruments: Mapping[str, Followed] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    source: str = "service"

    def wants(self, tick: VenueTick) -> bool:
        """Say whether the tick is a followed underlying's index or a followed instrument's."""
        if tick.field == "index":
            return tick.target in self.underlyings
        found = self.instruments.get(tick.target)
        return found is not None and found.option == (tick.field == "iv")

    def underlying_of(self, tick: VenueTick) -> str:
        """Return the underlying a followed tick belongs to (its staleness counts there)."""
        if tick.field == "index":
            return tick.target
        return self.instruments[tick.target].underlying

    def options(self) -> list[Followed]:
        """Followed options, by symbol."""
        return [f for _, f in sorted(self.instruments.items()) if f.option]

    def futures(self) -> list[Followed]:
        """Followed futures and perpetuals, by symbol."""
        return [f for _, f in sorted(self.instruments.items()) if not f.option]

    def describe(self) -> str:
        """One line: the underlyings, the number of futures and options, the source."""
        codes = ",".join(sorted(self.underlyings)) or "none"
        return (
            f"underlyings {codes}; {len(self.futures())} futures/perpetuals, "
            f"{len(self.options())} options (from the {self.source})"
        )


def universe_for(
    venue: str,
    market: Mapping[str, Any] | None,
    *,
    underlyings: Collection[str] = (),
    instruments: Iterable[str] = (),
    main_indexes: Collection[str] = ("BTC", "ETH"),
) -> Universe:
    """Decide what a feed of ``venue`` follows.

    Parameters
    ----------
    venue
        ``"deribit"`` or ``"okx"``: only symbols of this venue are followed.
    market
        The service's market in force (market-file form), or None when the service cannot
        tell (then ``underlyings`` are required).
    underlyings
        Codes to keep (``--underlying``); empty: every underlying of the market that the venue
        has an index for (one of ``main_indexes``, or one with a followed instrument).
    instruments
        Extra symbols to follow (``--instrument``).
    main_indexes
        Underlyings whose index the venue always publishes.

    Returns
    -------
    Universe
        What to follow.

    Raises
    ------
    InputError
        No market and no ``--underlying``; an ``--instrument`` that is not one of this
        venue's futures, perpetuals or options.
    """
    from pmargin.engine import instruments_for

    wanted = {u.strip().upper() for u in underlyings if u.strip()}
    if market is None and not wanted:
        raise InputError(
            "--underlying",
            None,
            "is needed: the service does not say which underlyings it holds (GET /v1/market)",
        )
    marks = market.get("marks") if market is not None else None
    symbols = [s for s in (marks or {}) if isinstance(s, str)]
    extra = [s.strip() for s in instruments if s.strip()]
    followed: dict[str, Followed] = {}
    skipped: dict[str, str] = {}
    for symbol in [*symbols, *extra]:
        try:
            (instrument,) = instruments_for([symbol])
        except PmarginError as exc:
            reason = f"not a venue symbol ({' '.join(str(exc).split())})"
            if symbol in extra:
                raise InputError("--instrument", symbol, reason) from None
            skipped[symbol] = reason
            continue
        kind = instrument.kind.value
        reason = ""
        if instrument.venue != venue:
            reason = f"a {instrument.venue or 'non-venue'} symbol"
        elif kind == "spot":
            reason = "spot (no mark channel is read)"
        elif wanted and instrument.underlying not in wanted:
            reason = f"underlying {instrument.underlying} not asked for"
        if reason:
            if symbol in extra:
                raise InputError("--instrument", symbol, f"is {reason}")
            skipped[symbol] = reason
            continue
        followed[symbol] = Followed(
            symbol=symbol,
            underlying=instrument.underlying,
            quote=instrument.quote,
            option=instrument.is_option,
            inverse=instrument.is_inverse,
        )
    if wanted:
        codes = frozenset(wanted)
    else:
        index = market.get("index") if market is not None else None
        held = {f.underlying for f in followed.values()}
        codes = frozenset(
            str(u).upper()
            for u in (index or {})
            if str(u).upper() in main_indexes or str(u).upper() in held
        )
    return Universe(
        underlyings=codes,
        instruments=followed,
        skipped=skipped,
        source="service" if market is not None else "command line",
    )
