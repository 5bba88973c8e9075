"""The facade's document entries (engine/_documents.py) equal the calls they make."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from pmargin.book import ledger_fill, load_portfolio, portfolio_from_dict
from pmargin.engine import (
    EXAMPLE_MARKET,
    book_fill,
    check_market_document,
    example_path,
    load_inputs,
    margin_document,
    margin_report,
)
from pmargin.errors import InputError
from pmargin.instruments import parse_symbol
from pmargin.market import load_market


def test_margin_document_is_margin_report_of_the_files() -> None:
    portfolio_file = example_path("example_portfolio.json")
    market_file = example_path(EXAMPLE_MARKET)
    market, portfolio = load_inputs(market_file, portfolio_file)
    documents = json.loads(portfolio_file.read_text()), json.loads(market_file.read_text())
    for model in ("deribit", "standard"):
        expected = margin_report(portfolio, market, model).to_dict()
        assert margin_document(*documents, model) == expected


def test_check_market_document_reads_like_the_file() -> None:
    path = example_path(EXAMPLE_MARKET)
    assert check_market_document(json.loads(path.read_text())) == load_market(path)
    with pytest.raises(InputError, match="timestamp"):
        check_market_document({"index": {"BTC": 1.0}})


def test_book_fill_is_ledger_fill_of_the_symbol() -> None:
    args = (Decimal(100), Decimal(50000), Decimal(-300), Decimal(60000))
    expected = ledger_fill(parse_symbol("BTC-PERPETUAL"), *args)
    assert book_fill("BTC-PERPETUAL", *args) == expected
    with pytest.raises(InputError) as info:
        book_fill("NOT-A-SYMBOL", *args)
    assert info.value.field == "instrument"


def test_portfolio_document_matches_the_file_reader() -> None:
    path = example_path("example_portfolio.json")
    assert portfolio_from_dict(json.loads(path.read_text())) == load_portfolio(path)
