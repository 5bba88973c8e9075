"""The universe: the glob, quotes or the spread rule, costs by the fill rules, lots, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pmargin.book import BookArrangement, fill
from pmargin.errors import InputError
from pmargin.optimise import (
    Quote,
    TradingRules,
    hedge_universe,
    load_quotes,
    load_trading_rules,
    trading_rules_path,
)


def test_spread_rule_and_costs(short_vol_book: BookArrangement) -> None:
    """Options max(0.0001 coin, 3 % of mark), futures 0.5 bp; cost = -equity change (USD)."""
    rules = load_trading_rules()
    u = hedge_universe(short_vol_book, "BTC-*", rules)
    assert all(s.startswith("BTC-") for s in u.symbols)
    for i, instrument in enumerate(u.instruments):
        mark = float(u.mark[i])
        half = max(0.0001, 0.03 * mark) if instrument.is_option else 0.00005 * mark
        assert u.ask[i] - mark == pytest.approx(half, rel=1e-12)
        usd = float(u.resolved.settlement_usd[i])
        bought = fill(instrument, 2.0, float(u.ask[i]), mark).equity_change * usd
        assert u.cost(np.eye(len(u))[i] * 2.0) == pytest.approx(-bought, rel=1e-12)
        assert u.buy_cost[i] > 0
        assert u.sell_cost[i] > 0
    perp = u.symbols.index("BTC-PERPETUAL")
    assert u.lot_native[perp] == 10.0  # one 10-USD contract
    assert u.lot_base[perp] == pytest.approx(10.0 / float(u.resolved.underlying_price[perp]))


def test_quotes_replace_the_rule(short_vol_book: BookArrangement, tmp_path: Path) -> None:
    """A quote's bid and ask are the fill prices; a bad quote is refused by symbol."""
    path = tmp_path / "quotes.json"
    path.write_text(json.dumps({"BTC-PERPETUAL": {"bid": 101_000.0, "ask": 102_000.0}}))
    quotes = load_quotes(path)
    assert quotes == {"BTC-PERPETUAL": Quote(101_000.0, 102_000.0)}
    u = hedge_universe(short_vol_book, "BTC-PERP*", TradingRules(), quotes=quotes)
    assert u.quoted == (True,)
    assert (u.bid[0], u.ask[0]) == (101_000.0, 102_000.0)
    path.write_text(json.dumps({"BTC-PERPETUAL": {"bid": 2.0, "ask": 1.0}}))
    with pytest.raises(InputError) as error:
        load_quotes(path)
    assert error.value.field == "quotes.BTC-PERPETUAL"


def test_rules_file_is_validated(tmp_path: Path) -> None:
    """The shipped file loads; an unknown or out-of-range field is named."""
    assert load_trading_rules() == load_trading_rules(trading_rules_path())
    text = trading_rules_path().read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("option_base = 0.1", "option_base = -1"), encoding="utf-8")
    with pytest.raises(InputError, match="option_base"):
        load_trading_rules(bad)
    bad.write_text(text + "\n[extra]\nx = 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="extra"):
        load_trading_rules(bad)


def test_nothing_matches(short_vol_book: BookArrangement) -> None:
    """A glob matching no mark is an InputError on ``universe``."""
    with pytest.raises(InputError) as error:
        hedge_universe(short_vol_book, "XRP-*", TradingRules())
    assert error.value.field == "universe"
