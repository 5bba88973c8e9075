"""The agent's proposal for one account: the library, the facade and the service endpoint.

On the shipped example market, a Deribit account (2 BTC, short 20,000 USD of the perpetual,
short one 95,000 put) asked to halve its utilisation: the proposal reaches the target at the
model's own IM after the trades (re-margined from scratch). The endpoint ``POST
/v1/accounts/{id}/hedge-proposal``: tests/service/test_service_hedge_proposal.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from pmargin.book import arrange, portfolio_from_dict
from pmargin.engine import EXAMPLE_MARKET, example_path, hedge_proposal_document
from pmargin.errors import InputError
from pmargin.health import AccountWhatIf, Trade
from pmargin.instruments import parse_symbol
from pmargin.margin import get_model
from pmargin.market import market_from_dict
from pmargin.optimise import (
    agent_candidates,
    hedge_universe,
    load_agent_policy,
    load_trading_rules,
    propose_hedge,
)

MARKET: dict[str, Any] = json.loads(example_path(EXAMPLE_MARKET).read_text())
PORTFOLIO: dict[str, Any] = {
    "id": "a1",
    "balances": {"BTC": 2.0},
    "positions": [
        {"instrument": "BTC-PERPETUAL", "quantity": -20_000.0, "avg_price": 101_500.0},
        {"instrument": "BTC-28NOV25-95000-P", "quantity": -1.0, "avg_price": 0.0135},
    ],
}


def _utilisation(model: str = "deribit") -> float:
    document = hedge_proposal_document(PORTFOLIO, MARKET, "a1", model=model, target_util=10.0)
    return float(document["utilisation"])


@pytest.mark.parametrize("model", ["deribit", "standard"])
def test_the_proposal_reaches_the_target_at_the_models_own_im(model: str) -> None:
    target = 0.5 * _utilisation(model)
    document = hedge_proposal_document(PORTFOLIO, MARKET, "a1", model=model, target_util=target)
    proposal = document["proposal"]
    assert document["target_reached"] is True
    assert proposal["trades"]
    assert proposal["im_after"] <= target * proposal["equity_after"] * (1 + 1e-9)
    # the library's proposal, re-margined from scratch after its trades (the reference twin)
    portfolio = portfolio_from_dict(PORTFOLIO)
    book = arrange(portfolio, market_from_dict(MARKET, portfolio.instruments))
    policy = replace(load_agent_policy(), target_utilisation=target)
    listed = [parse_symbol(s) for s in MARKET["marks"] if s.endswith("PERPETUAL")]
    candidates = agent_candidates(policy, book, book.row("a1"), listed)
    universe = hedge_universe(book, "*", load_trading_rules(), instruments=candidates)
    found, reached = propose_hedge(policy, get_model(model), book, "a1", universe)
    assert reached
    assert found.im_after <= target * found.equity_after * (1 + 1e-9)
    by_symbol = dict(zip(universe.symbols, universe.instruments, strict=True))
    legs = [Trade(by_symbol[t.instrument], t.base_quantity, t.price) for t in found.trades]
    after = AccountWhatIf(get_model(model), book).margin_after_reference(book.row("a1"), legs)
    assert after.initial_margin == pytest.approx(found.im_after, rel=1e-9)
    assert after.equity == pytest.approx(found.equity_after, rel=1e-9)


def test_an_account_below_its_target_gets_no_trade() -> None:
    document = hedge_proposal_document(PORTFOLIO, MARKET, "a1", model="deribit", target_util=10.0)
    assert document["proposal"]["trades"] == []
    assert document["triggered"] is False
    assert document["proposal"]["im_after"] == pytest.approx(document["proposal"]["im_before"])


def test_a_universe_glob_and_bad_targets() -> None:
    target = 0.5 * _utilisation()
    document = hedge_proposal_document(
        PORTFOLIO, MARKET, "a1", model="deribit", universe="*PERPETUAL", target_util=target
    )
    assert {t["instrument"] for t in document["proposal"]["trades"]} <= {
        "BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "ETH-PERPETUAL"
    }  # fmt: skip
    with pytest.raises(InputError, match="target_util"):
        hedge_proposal_document(PORTFOLIO, MARKET, "a1", model="deribit", target_util=0.0)
