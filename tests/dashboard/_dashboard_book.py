"""The dashboard tests' book: the example portfolio booked through the service's own API.

Each example account is opened, funded with its balances and given its positions as fills at
the mark (the facade's quotes: coin per coin for inverse options, the forward for futures),
through any HTTP client (FastAPI's TestClient in process, httpx against the real server).
"""

from __future__ import annotations

import json
from typing import Any

from pmargin.book import portfolio_from_dict
from pmargin.engine import EXAMPLE_MARKET, example_path, price_instruments
from pmargin.market import market_from_dict

TRADER_ACCOUNT = "btc-short-strangle"
"""The account the tests' trader key belongs to."""


def example_documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """The example portfolio and market documents (files shipped in the package)."""
    portfolio = json.loads(example_path("example_portfolio.json").read_text())
    market = json.loads(example_path(EXAMPLE_MARKET).read_text())
    return portfolio, market


def book_example(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    """Put the example market in force and book every example account; the market."""
    portfolio, market = example_documents()
    parsed = portfolio_from_dict(portfolio)
    snapshot = market_from_dict(market, parsed.instruments)
    quotes = {
        q.instrument.symbol: q for q in price_instruments(parsed.unique_instruments(), snapshot)
    }
    assert client.put("/v1/market", json=market, headers=headers).status_code == 200
    for account in portfolio["accounts"]:
        answer = client.post("/v1/accounts", json={"id": account["id"]}, headers=headers)
        assert answer.status_code == 201, answer.text
        for asset, amount in account["balances"].items():
            body = {"asset": asset, "amount": str(amount)}
            answer = client.post(
                f"/v1/accounts/{account['id']}/deposits", json=body, headers=headers
            )
            assert answer.status_code == 200, answer.text
        for position in account["positions"]:
            quote = quotes[position["instrument"]]
            price = quote.forward if quote.instrument.is_futures_style else quote.price
            body = {
                "instrument": position["instrument"],
                "quantity": position["quantity"],
                "price": repr(price),
                "fee": "0",
            }
            answer = client.post(f"/v1/accounts/{account['id']}/fills", json=body, headers=headers)
            assert answer.status_code == 200, answer.text
    return market
