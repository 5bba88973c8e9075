"""The hedging agent's proposal: ``POST /v1/accounts/{id}/hedge-proposal``.

Reads the stored account and the market in force and asks the facade
(:func:`pmargin.engine.hedge_proposal_document`): the account's utilisation against the agent
policy's trigger, and the cheapest hedge restoring the target (docs/agent.md). Nothing is
written: the trader books the trades as fills if it wants them. Roles as the other account
reads: an admin or the account's trader (404 for any other).
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pmargin.engine import hedge_proposal_document
from pmargin.service import _ledger as ledger
from pmargin.service._keys import Principal

__all__ = ["HedgeProposalIn", "hedge_router"]


class HedgeProposalIn(BaseModel):
    """What to propose: a universe glob (default: the policy's candidates), a target."""

    model_config = ConfigDict(extra="forbid")

    universe: str | None = Field(default=None, min_length=1, max_length=64)
    target_util: float | None = Field(default=None, gt=0.0, le=10.0)


def hedge_router(
    engine: Engine,
    model: str,
    principal: Callable[..., Principal],
    may_see: Callable[[Principal, str], None],
) -> APIRouter:
    """Build the proposal route over the store (included by :func:`create_app`).

    Parameters
    ----------
    engine
        The store.
    model
        The server's model (a proposal without ``?model=``).
    principal
        The app's dependency returning the key's principal (401 without one).
    may_see
        The app's check that the key may read the account (404 otherwise).
    """
    router = APIRouter()
    caller_of = Annotated[Principal, Depends(principal)]
    model_of = Annotated[str, Query(min_length=1, max_length=64)]

    @router.post("/v1/accounts/{account_id}/hedge-proposal")
    def hedge_proposal(
        account_id: str,
        caller: caller_of,
        body: HedgeProposalIn | None = None,
        model: model_of = model,
    ) -> dict[str, Any]:
        """Propose the cheapest hedge restoring the agent's target utilisation (nothing written).

        ``{"account", "model", "utilisation", "trigger", "target_util", "triggered",
        "reasons", "target_reached", "proposal"}``; ``proposal`` is ``pmargin hedge --json``
        (quantities in native units, prices as the venue quotes them, USD amounts).
        """
        may_see(caller, account_id)
        given = body or HedgeProposalIn()
        with Session(engine) as session:
            document = ledger.account_document(session, account_id)
            portfolio, market = ledger._portfolio(document), ledger._market(session)
        return hedge_proposal_document(
            portfolio,
            market,
            account_id,
            model=model,
            universe=given.universe,
            target_util=given.target_util,
        )

    return router
