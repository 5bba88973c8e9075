"""The facade only composes: each entry point gives the numbers of the layers it calls.

Each test recomputes the result by calling the layer or application below directly, as the
facade's docstring says it does, and compares bit for bit. The last test keeps the layer
reading that avoids a cycle through the facade: applications and consumers never import it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pmargin.book import Portfolio, arrange, example_portfolio
from pmargin.collateral import account_equity
from pmargin.engine import (
    CAPTURE_TOLERANCE,
    EXAMPLE_MARKET,
    capture_report,
    example_inputs,
    example_path,
    margin_report,
    order_report,
    params_from_capture,
    stress_report,
)
from pmargin.errors import InputError
from pmargin.margin import get_model
from pmargin.margin.deribit import TOLERANCE
from pmargin.market import MarketSnapshot, load_market
from pmargin.pretrade import Order, PreTradeChecker
from pmargin.stress import parse_shock, stress_test
from shared_paths import REPO

N_ACCOUNTS = 12
Inputs = tuple[MarketSnapshot, Portfolio]


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return example_inputs(N_ACCOUNTS, 7)


def test_example_inputs_are_the_shipped_market_and_the_seeded_book(inputs: Inputs) -> None:
    market, book = inputs
    shipped = load_market(example_path(EXAMPLE_MARKET))
    assert market.timestamp == shipped.timestamp
    assert book == example_portfolio(shipped, N_ACCOUNTS, seed=7)


@pytest.mark.parametrize("model", ["standard", "deribit"])
def test_order_report_is_the_pretrade_check_over_the_model_margin(
    inputs: Inputs, model: str
) -> None:
    market, book = inputs
    account = next(a for a in book.accounts if a.positions)
    symbol = account.positions[0].instrument.symbol
    report = order_report(book, market, account.id, symbol, 1.0, unit="base", model=model)
    arranged = arrange(book, market)
    direct = PreTradeChecker(get_model(model), arranged).check(
        account.id, Order(account.positions[0].instrument, 1.0, "base")
    )
    assert report.check.to_dict() == direct.to_dict()
    expected_notes = get_model(model).compute(arranged).notes
    assert report.notes == expected_notes
    assert ("notes" in report.to_dict()) == bool(expected_notes)


def test_order_report_names_the_order_field(inputs: Inputs) -> None:
    market, book = inputs
    account = next(a for a in book.accounts if a.positions)
    symbol = account.positions[0].instrument.symbol
    with pytest.raises(InputError) as err:
        order_report(book, market, account.id, symbol, 0.0, model="standard")
    assert err.value.field == "order.quantity"


def test_stress_report_is_stress_test_of_the_parsed_shocks(inputs: Inputs) -> None:
    market, book = inputs
    texts = ["BTC=-0.3,ETH=-0.4,vol=+0.5", "vol=+10pt"]
    report = stress_report(book, market, shocks=texts, model="standard", allow_unheld=True)
    direct = stress_test(
        book, market, [parse_shock(t) for t in texts], model="standard", allow_unheld=True
    )
    np.testing.assert_array_equal(report.loss, direct.loss)
    # The margin and equity a stress report holds are the model's and account_equity's.
    arranged = arrange(book, market)
    margin = margin_report(book, market, "standard")
    np.testing.assert_array_equal(report.initial_margin, margin.result.initial_margin)
    np.testing.assert_array_equal(report.maintenance_margin, margin.result.maintenance_margin)
    np.testing.assert_array_equal(report.equity, account_equity(arranged).equity)


@pytest.mark.parametrize("call", [capture_report, params_from_capture])
def test_capture_entries_refuse_other_models_by_field(call: Callable[[str, str], object]) -> None:
    with pytest.raises(InputError) as err:
        call("okx", "reply.json")
    assert err.value.field == "model"


def test_capture_tolerance_is_deribits() -> None:
    assert CAPTURE_TOLERANCE == TOLERANCE == 1e-9


def _imports_engine(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pmargin.engine"):
            return True
        if isinstance(node, ast.Import) and any(
            a.name.startswith("pmargin.engine") for a in node.names
        ):
            return True
    return False


def test_no_layer_below_the_facade_imports_it() -> None:
    # The facade imports the applications; an application importing the facade back would
    # be an import cycle (DESIGN.md's row "the facade and below" read as the layers below).
    src = REPO / "src" / "pmargin"
    adapters = {"engine", "cli", "service", "dashboard", "feeds"}
    offenders = [
        str(p.relative_to(src))
        for p in sorted(src.rglob("*.py"))
        if p.relative_to(src).parts[0] not in adapters and _imports_engine(p)
    ]
    assert offenders == []
