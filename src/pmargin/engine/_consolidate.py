"""One owner at several venues: ``pmargin consolidate``.

The facade reads each venue's portfolio file, or its saved API replies through the importers
(:func:`pmargin.io.read_replies`, :func:`pmargin.io.import_portfolio`, as ``--from VENUE``
does), the market and any venue's own market, builds each part with its venue's model, and
asks :func:`pmargin.optimise.consolidate` (each venue's margin, the sum, the union's margin,
what netting frees) and, on request, :func:`pmargin.optimise.hedge_across` (the hedge over
every venue's universe, each leg margined at its own venue); the maths lives in
:mod:`pmargin.optimise`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pmargin.book import arrange, load_portfolio
from pmargin.errors import InputError
from pmargin.instruments import VENUES
from pmargin.io import import_portfolio, read_replies
from pmargin.margin import MODELS, get_model
from pmargin.market import MarketSnapshot, load_market
from pmargin.optimise import (
    Consolidation,
    HedgeLimits,
    HedgeProblem,
    HedgeProposal,
    VenuePart,
    consolidate,
    hedge_across,
    hedge_universe,
    load_trading_rules,
)

__all__ = ["ConsolidationReport", "consolidate_report", "venue_model"]


def venue_model(venue: str) -> str:
    """Return the default model of a venue: its own where pmargin has it, else ``standard``."""
    return venue if venue in MODELS else "standard"


@dataclass(frozen=True, slots=True)
class ConsolidationReport:
    """The consolidation and, on request, the hedge across venues.

    Attributes
    ----------
    consolidation
        Each venue's margin, the sum, the union's and what netting frees (USD).
    hedges
        One proposal per venue (empty without ``--hedge``).
    """

    consolidation: Consolidation
    hedges: tuple[HedgeProposal, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Return the ``pmargin consolidate --json`` document."""
        document = self.consolidation.to_dict()
        if self.hedges:
            document["hedge"] = {
                "venues": [h.to_dict() for h in self.hedges],
                "cost": float(sum(h.cost for h in self.hedges)),
                "im_before": float(sum(h.im_before for h in self.hedges)),
                "im_after": float(sum(h.im_after for h in self.hedges)),
            }
        return document


def consolidate_report(
    market_file: str | Path,
    parts: Sequence[tuple[str, str | Path]],
    *,
    accounts: Mapping[str, str] | None = None,
    models: Mapping[str, str] | None = None,
    union_model: str = "deribit",
    universe: str | None = None,
    max_size: float | None = None,
    max_cost: float | None = None,
    delta_band: tuple[float, float] | None = None,
    lots: bool = True,
    replies: Sequence[tuple[str, str | Path]] = (),
    venue_markets: Mapping[str, str | Path] | None = None,
) -> ConsolidationReport:
    """Margin one owner's accounts at several venues, apart and together.

    Parameters
    ----------
    market_file
        The market snapshot every part is margined at.
    parts
        ``(venue, portfolio file)`` pairs, one per venue (distinct venues).
    replies
        ``(venue, saved reply file or folder)`` pairs: a venue read from its API replies
        (:data:`pmargin.io.IMPORT_VENUES`; several pairs of one venue are read together;
        the account is named after the venue). A venue is given by ``parts`` or here, not
        both.
    venue_markets
        Venue -> its own market file (its marks), where its part is margined and hedged;
        the union is margined at ``market_file``.
    accounts
        Venue -> account id; default each file's only account.
    models
        Venue -> model name; default :func:`venue_model`.
    union_model
        The model of the union account.
    universe
        A glob over the market's symbols: also hedge across venues, each venue trading these
        instruments (a venue pmargin knows the symbols of, ``deribit``, ``okx``, ...: only its
        own; a venue with none does not trade); ``None``: no hedge.
    max_size, lots
        Each venue's hedge limits (:class:`pmargin.optimise.HedgeLimits`).
    max_cost, delta_band
        The owner's limits over every venue: total cost (USD), net delta per underlying
        (base units).

    Raises
    ------
    InputError
        A venue given twice, a file with several accounts and no ``accounts`` entry, an
        unknown model or account, and every error of the readers and models.
    """
    venues = [venue for venue, _ in parts]
    if len(set(venues)) != len(venues):
        raise InputError("--part", venues, "names a venue twice")
    reply_files: dict[str, list[str | Path]] = {}
    for venue, path in replies:
        if venue in venues:
            raise InputError("--replies", venue, "is also given as a portfolio file (--part)")
        reply_files.setdefault(venue, []).append(path)
    portfolios = {venue: load_portfolio(path) for venue, path in parts}
    for venue, files in reply_files.items():
        portfolios[venue] = import_portfolio(venue, read_replies(venue, files), account=venue)
        venues.append(venue)
    explicit = {s: i for p in portfolios.values() for s, i in p.instruments.items()}
    market = load_market(market_file, explicit)
    chosen_accounts = accounts or {}
    chosen_models = models or {}
    own_markets = venue_markets or {}
    for name in (*chosen_accounts, *chosen_models, *own_markets):
        if name not in portfolios:
            raise InputError("venue", name, f"is not one of the parts ({', '.join(venues)})")
    markets: dict[str, MarketSnapshot] = {
        venue: load_market(path, portfolios[venue].instruments)
        for venue, path in own_markets.items()
    }
    venue_parts = []
    for venue, portfolio in portfolios.items():
        account = chosen_accounts.get(venue)
        if account is None:
            if len(portfolio.accounts) != 1:
                raise InputError(
                    f"--account {venue}=ID", None, "is required: the file holds several accounts"
                )
            account = portfolio.accounts[0].id
        model = get_model(chosen_models.get(venue, venue_model(venue)))
        venue_parts.append(VenuePart(venue, portfolio, account, model, markets.get(venue)))
    result = consolidate(venue_parts, market, get_model(union_model))
    if universe is None:
        return ConsolidationReport(result)
    rules = load_trading_rules()
    problems = []
    for part in venue_parts:
        book = arrange(part.portfolio, market if part.market is None else part.market)
        candidates = hedge_universe(book, universe, rules, explicit=part.portfolio.instruments)
        if part.venue in VENUES:  # a known venue trades its own symbols only
            own = [i for i, c in enumerate(candidates.instruments) if c.venue == part.venue]
            if not own:
                continue
            candidates = candidates.take(own)
        limits = HedgeLimits(max_size=max_size, lots=lots)
        problems.append(HedgeProblem(part.model, book, part.account, candidates, limits))
    if not problems:
        raise InputError("--hedge", universe, "matches no instrument any venue trades")
    hedges = hedge_across(problems, delta_band=delta_band, max_cost=max_cost)
    return ConsolidationReport(result, tuple(hedges))
