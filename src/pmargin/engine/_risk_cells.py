"""A risk unit's scenario cells before the model's offsets and dampeners: ``pmargin risk-matrix``.

A margin result carries each unit's cells as the model reduces them (after its weights, the
P&L offset on gains and the extended-cell dampener): what IM reads. Where a model also builds
the cells before those steps (Deribit S:PM and X:PM: :meth:`pmargin.margin.deribit.
DeribitModel.risk_vectors`, whose ``pre_aggregated`` are the weighted positions' P&L before
the offset and the dampener), :func:`cells_before_offsets` returns them for one account, so a
display can show both and where the difference lies. Other models give none: their cells are
the positions' P&L as it stands.
"""

from __future__ import annotations

from pathlib import Path

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement, Portfolio, arrange
from pmargin.margin import get_model
from pmargin.margin.deribit import DeribitModel
from pmargin.market import MarketSnapshot

__all__ = ["cells_before_offsets"]


def cells_before_offsets(
    portfolio: Portfolio | BookArrangement,
    market: MarketSnapshot,
    model: str,
    account: str,
    params: str | Path | None = None,
) -> dict[tuple[str, str], FloatArray]:
    """Each risk unit's cells of one account before the model's offsets and dampeners.

    Parameters
    ----------
    portfolio
        Accounts and positions, or a book arranged at ``market``.
    market
        The snapshot.
    model
        A registered model name.
    account
        The account id.
    params
        Optional TOML parameter file replacing the model's shipped one.

    Returns
    -------
    dict
        ``(underlying, currency)`` of a unit -> its cells, shape ``(n_scenarios,)`` in the
        unit's currency, in the order of the unit's ``scenario_labels``; empty for a model
        that applies no offset or dampener to its cells.

    Raises
    ------
    InputError
        An unknown account (and every error of the model).
    """
    built = get_model(model, params)
    if not isinstance(built, DeribitModel):
        return {}
    book = portfolio if isinstance(portfolio, BookArrangement) else arrange(portfolio, market)
    one = book.take_accounts([book.row(account)])
    return {(v.underlying, v.currency): v.pre_aggregated[0] for v in built.risk_vectors(one)}
