"""OKX's published position-builder example, reproduced (per risk unit and account, USD).

Source, capture and the published numbers: ``okx_position_builder_example.json`` (OKX API v5
reference, ``POST /api/v5/account/position-builder``, response example with ts
2025-01-15T10:26:41.642Z: a short BTC-USDT-SWAP and a long LTC-USDT-SWAP, 100 USDT).

The response does not print the index prices or the USDT price; they are recovered from
published numbers by the formulas in the fixture, and the first test recomputes those formulas
from the response before anything uses them. The model is the shipped ``okx.toml`` under a
user's parameter file (``okx-ltc-example.toml``, ``base = "okx"``) that gives LTC its example
values as a coin group of its own (the shipped tiers carry OKX's published values only, so
LTC's perpetual basis move and MR7 rate are not generalised to its tier) and switches the
borrowing charge MR8 on. LTC-USDT-SWAP is an explicit instrument spec: the registry knows no
OKX LTC/USDT contract size.

OKX prints float64 results (up to 17 significant digits); pmargin computes the same products
in a different order, so every number agrees to ``REL`` relative (largest seen: 2.4e-14, MR4 of
BTC) and zeros agree exactly.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pmargin.book import BookArrangement, arrange, portfolio_from_dict
from pmargin.collateral import account_equity
from pmargin.margin import MarginResult, RiskUnitMargin, get_model, load_parameter_file
from pmargin.margin.okx import OkxModel
from pmargin.market import MarketSnapshot, market_from_dict

HERE = Path(__file__).parent
FIXTURE = HERE / "okx_position_builder_example.json"
USER_PARAMS = HERE / "okx-ltc-example.toml"

REL = 1e-13
"""Relative agreement with the printed numbers (float64 rounding of the same algebra)."""

VOL_KIND = {"volShockUp": "up", "volSame": "none", "volShockDown": "down"}
"""OKX's mr1Scenarios keys -> pmargin's vol scenario names (okx.toml ``mr1.vol_scenarios``)."""

UNITS = ("BTC", "LTC")


@cache
def published() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def _num(text: str) -> float:
    return float(text)


def _close(actual: float, expected: str) -> None:
    assert actual == pytest.approx(_num(expected), rel=REL, abs=0.0 if _num(expected) else 1e-12)


def _response() -> dict[str, Any]:
    response: dict[str, Any] = published()["response"]
    return response


def _unit_data(underlying: str) -> dict[str, Any]:
    unit: dict[str, Any] = _response()["riskUnitData"][underlying]
    return unit


def _position(underlying: str) -> dict[str, Any]:
    position: dict[str, Any] = _unit_data(underlying)["portfolios"][0]
    return position


# -- inputs recovered from the response ------------------------------------------------------


def usdt_usd() -> float:
    """USD per USDT: adjusted equity over the USDT equity (the account holds nothing else)."""
    r = _response()
    return _num(r["eq"]) / _num(r["assets"]["USDT"]["availEq"])


def contract_size(underlying: str) -> float:
    """Coins per contract: floatPnl / (contracts x (markPx - avgPx))."""
    p = _position(underlying)
    return _num(p["floatPnl"]) / (_num(p["amt"]) * (_num(p["markPx"]) - _num(p["avgPx"])))


def index_usdt(underlying: str, move: str = "0.04") -> float:
    """The price MR1 moves: one mr1Scenarios cell / (move x coins held x USD per USDT)."""
    cell = _num(_unit_data(underlying)["mr1Scenarios"]["volSame"][move])
    coins = _num(_position(underlying)["amt"]) * contract_size(underlying)
    return cell / (_num(move) * coins * usdt_usd())


def test_inferred_inputs_follow_from_the_response() -> None:
    inferred = published()["inferred_inputs"]
    assert usdt_usd() == pytest.approx(_num(inferred["usdt_usd"]["value"]), rel=1e-15)
    # The LTC cash delta (10 LTC at the mark, in USD) gives the same USDT price.
    ltc = _position("LTC")
    assert _num(ltc["delta"]) / (_num(ltc["amt"]) * _num(ltc["markPx"])) == pytest.approx(
        usdt_usd(), rel=1e-15
    )
    for symbol, underlying in (("BTC-USDT-SWAP", "BTC"), ("LTC-USDT-SWAP", "LTC")):
        size = _num(inferred["contract_size"][symbol])
        assert contract_size(underlying) == pytest.approx(size, rel=1e-12)
    for underlying in UNITS:
        index = _num(inferred["index_usdt"][underlying])
        for move in _unit_data(underlying)["mr1Scenarios"]["volSame"]:
            if _num(move) != 0.0:
                assert index_usdt(underlying, move) == pytest.approx(index, rel=1e-13)
        # The shocks do not move the mark: taken from markPx, every cell would be off by far
        # more than the printed precision (BTC 1.5e-4, LTC 4.8e-5 relative).
        mark = _num(_position(underlying)["markPx"])
        assert abs(index / mark - 1.0) > 1e5 * REL


# -- the book, the market and the model ------------------------------------------------------


def book_and_market() -> tuple[BookArrangement, MarketSnapshot]:
    inferred = published()["inferred_inputs"]
    usdt = _num(inferred["usdt_usd"]["value"])
    positions = [
        {
            "instrument": p["instId"],
            "quantity": _num(p["pos"]),
            "unit": "contracts",
            "avg_price": _num(p["avgPx"]),
        }
        for p in published()["request"]["simPos"]
    ]
    portfolio = portfolio_from_dict(
        {
            "id": "okx-example",
            "balances": {a["ccy"]: _num(a["amt"]) for a in published()["request"]["simAsset"]},
            "positions": positions,
            "instruments": [
                {
                    "symbol": "LTC-USDT-SWAP",
                    "kind": "perpetual",
                    "underlying": "LTC",
                    "settlement": "linear",
                    "quote": "USDT",
                    "contract_size": _num(inferred["contract_size"]["LTC-USDT-SWAP"]),
                }
            ],
        }
    )
    market = market_from_dict(
        {
            "timestamp": int(_response()["ts"]),
            "index": {u: _num(inferred["index_usdt"][u]) * usdt for u in UNITS},
            "prices": {"USDT": usdt},
            "marks": {
                _position(u)["instId"]: {"price": _num(_position(u)["markPx"])} for u in UNITS
            },
        },
        instruments=portfolio.instruments,
    )
    return arrange(portfolio, market), market


def model(params: Path | None = None) -> OkxModel:
    built = get_model("okx", params=params)
    assert isinstance(built, OkxModel)
    return built


@cache
def result() -> MarginResult:
    book, _ = book_and_market()
    return model(USER_PARAMS).compute(book)


def unit(underlying: str) -> RiskUnitMargin:
    return next(u for u in result().risk_units if u.underlying == underlying)


def component(underlying: str, name: str) -> float:
    return float(unit(underlying).components[name][0])


# -- the published numbers -------------------------------------------------------------------


def test_ltc_takes_the_user_file_values_and_only_ltc() -> None:
    """LTC's example values come from the user's group ``ltc``; LTC's tier peers keep okx.toml's."""
    user = model(USER_PARAMS).params
    shipped = model().params
    assert "ltc" in load_parameter_file("okx", USER_PARAMS).table("groups").added()
    assert user.mr4_perpetual_move.lookup("LTC") == 0.008
    assert user.mr7_rates["perpetual"].lookup("LTC") == 0.007
    assert user.mr1_moves.lookup("LTC") == (0.06, 0.12, 0.18)
    assert user.mr6_moves.lookup("LTC") == 0.36
    # A table the group has no row in keeps LTC's shipped group (move_tier2's published 15%).
    assert user.mr4_annual_move.lookup("LTC") == shipped.mr4_annual_move.lookup("LTC") == 0.15
    for peer in ("SOL", "XRP", "BCH"):  # LTC's shipped tier-2 peers: untouched
        assert user.mr4_perpetual_move.lookup(peer) == shipped.mr4_perpetual_move.lookup(peer)
        assert user.mr7_rates["perpetual"].lookup(peer) == shipped.mr7_rates["perpetual"].lookup(
            peer
        )
    assert shipped.mr4_perpetual_move.lookup("LTC") == shipped.mr4_perpetual_move.default
    assert shipped.mr7_rates["perpetual"].lookup("LTC") == shipped.mr7_rates["perpetual"].default


def test_shipped_file_gives_the_published_values_of_ltc_tiers() -> None:
    """Without the user file: BTC's unit as published, LTC's MR1/MR6 (its published tiers) too.

    LTC's MR4 and MR7 then take okx.toml's ``default`` rates (assumed), not the example's.
    """
    book, _ = book_and_market()
    derivatives = model().compute(book)
    assert {u.underlying for u in derivatives.risk_units} == set(UNITS)
    by_unit = {u.underlying: u for u in derivatives.risk_units}
    btc = by_unit["BTC"]
    _close(float(btc.maintenance_margin[0]), _unit_data("BTC")["mmr"])
    _close(float(btc.initial_margin[0]), _unit_data("BTC")["imr"])
    ltc = by_unit["LTC"]
    for name in ("mr1", "mr6"):
        _close(float(ltc.components[name][0]), _unit_data("LTC")[name])
    delta = _num(_unit_data("LTC")["delta"])
    shipped = model().params
    _close(float(ltc.components["mr4"][0]) / shipped.mr4_perpetual_move.default, str(delta))
    _close(float(ltc.components["mr7"][0]) / shipped.mr7_rates["perpetual"].default, str(delta))
    assert float(ltc.components["mr4"][0]) != pytest.approx(_num(_unit_data("LTC")["mr4"]))
    assert float(derivatives.im_other[0]) == 0.0


def test_user_file_without_borrowing_gives_the_derivatives_margin(tmp_path: Path) -> None:
    """The example's ``derivMmr``: the LTC file with MR8 off again (a user's file of its own)."""
    text = USER_PARAMS.read_text(encoding="utf-8").replace("enabled = true", "enabled = false")
    assert "enabled = false" in text
    path = tmp_path / "okx-ltc-no-borrowing.toml"
    path.write_text(text, encoding="utf-8")
    book, _ = book_and_market()
    derivatives = model(path).compute(book)
    assert {u.underlying for u in derivatives.risk_units} == set(UNITS)
    _close(float(derivatives.maintenance_margin[0]), _response()["derivMmr"])
    imr = sum(_num(_unit_data(u)["imr"]) for u in UNITS)
    assert float(derivatives.initial_margin[0]) == pytest.approx(imr, rel=REL)
    assert float(derivatives.im_other[0]) == 0.0


def test_contract_sizes_match_the_registry_where_it_knows_them() -> None:
    book, _ = book_and_market()
    sizes = {i.symbol: i.contract_size for i in book.instruments}
    inferred = published()["inferred_inputs"]["contract_size"]
    assert sizes == {s: _num(inferred[s]) for s in sizes}


@pytest.mark.parametrize("underlying", UNITS)
@pytest.mark.parametrize("vol_key", sorted(VOL_KIND))
def test_mr1_scenarios_every_cell(underlying: str, vol_key: str) -> None:
    u = unit(underlying)
    pnl = dict(zip(u.scenario_labels, u.pnl[0].tolist(), strict=True))
    cells = _unit_data(underlying)["mr1Scenarios"][vol_key]
    assert len(cells) == 7
    for move, value in cells.items():
        label = f"MR1 {underlying} {_num(move) * 100:+g}% vol {VOL_KIND[vol_key]}"
        _close(pnl[label], value)


@pytest.mark.parametrize("underlying", UNITS)
def test_mr1_worst_scenario(underlying: str) -> None:
    u = unit(underlying)
    final = _unit_data(underlying)["mr1FinalResult"]
    n_mr1 = sum(label.startswith("MR1 ") for label in u.scenario_labels)
    worst = int(np.argmin(u.pnl[0, :n_mr1]))
    move = _num(final["spotShock"])
    expected = f"MR1 {underlying} {move * 100:+g}% vol {final['volShock']}"
    assert u.scenario_labels[worst] == expected
    _close(float(u.pnl[0, worst]), final["pnl"])


@pytest.mark.parametrize("underlying", UNITS)
def test_mr6_is_half_the_extreme_move_loss(underlying: str) -> None:
    u = unit(underlying)
    final = _unit_data(underlying)["mr6FinalResult"]
    weight = model(USER_PARAMS).params.mr6_weight
    move = _num(final["spotShock"])
    label = f"MR6 {underlying} {move * 100:+g}% x{weight:g} vol none"
    column = u.scenario_labels.index(label)
    _close(float(u.pnl[0, column]) / weight, final["pnl"])
    _close(component(underlying, "mr6"), _unit_data(underlying)["mr6"])


@pytest.mark.parametrize("underlying", UNITS)
@pytest.mark.parametrize("name", ["mr1", "mr2", "mr3", "mr4", "mr5", "mr7", "mmr"])
def test_unit_components(underlying: str, name: str) -> None:
    _close(component(underlying, name), _unit_data(underlying)[name])


@pytest.mark.parametrize("underlying", UNITS)
def test_unit_margins(underlying: str) -> None:
    u = unit(underlying)
    data = _unit_data(underlying)
    _close(float(u.maintenance_margin[0]), data["mmr"])
    _close(float(u.initial_margin[0]), data["imr"])
    # MR7 is in its first tier (x1): raw and scaled agree, and it does not bind.
    assert component(underlying, "mr7_raw") == component(underlying, "mr7")
    assert component(underlying, "mr") > component(underlying, "mr7")
    # MR9 (stablecoin hedge) is 0: every position settles in USDT. pmargin has no MR9.
    assert _num(data["mr9"]) == 0.0


@pytest.mark.parametrize("underlying", UNITS)
def test_cash_delta_at_the_mark(underlying: str) -> None:
    """OKX's CASH delta, the base MR4 and MR7 are sized on: coins x mark x USD per USDT."""
    book, _ = book_and_market()
    j = next(k for k, i in enumerate(book.instruments) if i.underlying == underlying)
    r = book.resolved
    delta = float(book.quantity.toarray()[0, j] * r.underlying_price[j] * r.quote_usd[j])
    _close(delta, _unit_data(underlying)["delta"])
    p = model(USER_PARAMS).params
    _close(abs(delta) * p.mr4_perpetual_move.lookup(underlying), _unit_data(underlying)["mr4"])
    _close(abs(delta) * p.mr7_rates["perpetual"].lookup(underlying), _unit_data(underlying)["mr7"])


def test_borrowing_and_account_totals() -> None:
    r = _response()
    res = result()
    borrow = unit("*")
    _close(float(borrow.maintenance_margin[0]), r["borrowMmr"])
    for underlying in UNITS:  # OKX repeats the account's borrowing MMR in every unit
        _close(float(borrow.components["mr8"][0]), _unit_data(underlying)["mr8"])
    _close(float(borrow.initial_margin[0]), r["assets"]["USDT"]["borrowImr"])
    _close(float(res.im_other[0]), r["assets"]["USDT"]["borrowImr"])
    _close(float(borrow.components["borrowed"][0]), r["eq"].lstrip("-"))
    derivatives = sum(float(unit(u).maintenance_margin[0]) for u in UNITS)
    _close(derivatives, r["derivMmr"])
    _close(float(res.maintenance_margin[0]), r["totalMmr"])
    _close(float(res.initial_margin[0]), r["totalImr"])
    contributions = float(res.im_contribution.sum()) + float(res.im_other[0])
    _close(contributions, r["totalImr"])


def test_equity_and_unrealised_pnl() -> None:
    book, _ = book_and_market()
    r = _response()
    equity = account_equity(book)
    _close(float(equity.equity[0]), r["eq"])
    _close(float(equity.by_currency["USDT"][0]), r["assets"]["USDT"]["availEq"])
    _close(float(equity.positions_usd[0]), r["upl"])
    unrealised = book.unrealised.toarray()[0]
    values = equity.position_value_usd.toarray()[0]  # type: ignore[attr-defined]
    for j, instrument in enumerate(book.instruments):
        _close(float(unrealised[j]), _position(instrument.underlying)["floatPnl"])
        _close(float(values[j]), _unit_data(instrument.underlying)["upl"])
