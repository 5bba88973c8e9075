"""deribit.toml: published values load; bad, missing or unknown fields name themselves."""

from __future__ import annotations

from typing import Any

import pytest
from _deribit_cases import DOC_INDEX, DOC_MARKS, DOC_POSITIONS, DOC_TIMESTAMP, book, model_from
from _deribit_cases import shipped as shipped_file

from pmargin.errors import InputError
from pmargin.margin import get_model
from pmargin.margin.deribit import (
    DampenerMode,
    DeltaShockMode,
    DeribitMode,
    DeribitModel,
    ExtendedWeighting,
    RollShockBasis,
)


def test_shipped_values_are_the_published_ones() -> None:
    model = get_model("deribit")
    assert isinstance(model, DeribitModel)
    p = model.params
    assert p.mode is DeribitMode.SEGREGATED
    assert (p.general.mm_factor, p.general.buckets_count, p.general.vol_scenarios_count) == (
        0.8,
        4,
        3,
    )
    assert p.general.extended_moves == (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
    btc, eth = p.pair("BTC"), p.pair("eth")
    assert (btc.price_range, btc.volatility_range_up, btc.volatility_range_down) == (
        0.16,
        0.5,
        0.25,
    )
    assert (eth.price_range, eth.volatility_range_up) == (0.18, 0.4)
    assert btc.delta_total_liq_shock_threshold == 20_000_000 == eth.delta_total_liq_shock_threshold
    c = p.currency("BTC")
    assert (c.min_annualised_move, c.annualised_move_risk, c.extended_dampener) == (
        0.01,
        0.075,
        100_000,
    )
    e = p.currency("ETH")
    assert (e.pnl_offset, e.max_offsetable_pnl, e.extended_dampener) == (0.6, 20_000_000, 200_000)
    assert p.currency("USD").equity_side_impact == "none"
    assert p.assumptions.extended_weighting is ExtendedWeighting.DISTANCE
    assert p.assumptions.extended_dampener_mode is DampenerMode.DISTANCE
    assert p.assumptions.roll_shock_basis is RollShockBasis.NET_DELTA_PER_EXPIRY
    assert p.assumptions.delta_shock is DeltaShockMode.OFF
    rule = p.vol_rule("BTC")
    assert (rule.range_up, rule.short_power, rule.long_power, rule.min_vol_for_shock_up) == (
        0.5,
        0.3,
        0.13,
        0.5,
    )


def _edit(path: str, value: Any) -> dict[str, Any]:
    data = shipped_file()
    *parents, leaf = path.split(".")
    table = data
    for key in parents:
        table = table[key]
    if value is _DELETE:
        del table[leaf]
    else:
        table[leaf] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("currency_pair.btc_usd.price_range", 0.0),
        ("currency_pair.btc_usd.price_range", 1.2),
        ("currency_pair.btc_usd.price_range", "16%"),
        ("currency_pair.btc_usd.volatility_range_down", 1.0),
        ("currency_pair.eth_usd.max_delta_shock", 1.5),
        ("currency_pair.eth_usd.extended_table_factor", -1.0),
        ("currency.eth.pnl_offset", 1.1),
        ("currency.btc.extended_dampener", -5.0),
        ("currency.btc.haircut", 1.0),
        ("currency.btc.equity_side_impact", "positive"),
        ("currency.btc.correlation_set", "no"),
        ("general.mm_factor", 0.0),
        ("general.buckets_count", 0),
        ("general.vol_scenarios_count", 5),
        ("assumptions.extended_dampener_mode", "zero"),
        ("assumptions.extended_weighting", "half"),
        ("assumptions.roll_shock_basis", "gross"),
        ("assumptions.delta_shock", "always"),
        ("model.mode", "portfolio"),
    ],
)
def test_out_of_range_field_is_named(path: str, value: Any) -> None:
    with pytest.raises(InputError) as err:
        model_from(_edit(path, value))
    assert err.value.field == f"deribit.toml: {path}"


@pytest.mark.parametrize(
    "path",
    [
        "currency_pair.btc_usd.price_range",
        "currency.eth.min_annualised_move",
        "general.mm_factor",
        "currency_pair",
    ],
)
def test_missing_field_is_named(path: str) -> None:
    with pytest.raises(InputError, match="is required") as err:
        model_from(_edit(path, _DELETE))
    assert err.value.field == f"deribit.toml: {path}"


def test_unknown_field_is_named() -> None:
    with pytest.raises(InputError, match="not a known field") as err:
        model_from(_edit("currency.btc.pnl_ofset", 0.5))
    assert err.value.field == "deribit.toml: currency.btc.pnl_ofset"


def test_extended_move_at_minus_100_percent_is_named() -> None:
    with pytest.raises(InputError, match="> -1") as err:
        model_from(_edit("general.extended_moves", [-1.0, 0.5]))
    assert err.value.field == "deribit.toml: general.extended_moves[0]"


def test_underlying_without_parameters_names_the_table_to_add() -> None:
    data = shipped_file()
    del data["currency_pair"]["btc_usd"]
    b, _ = book(DOC_TIMESTAMP, {"BTC": DOC_INDEX}, DOC_MARKS, DOC_POSITIONS)
    with pytest.raises(InputError, match=r"add a \[currency_pair\.btc_usd\] table") as err:
        model_from(data).compute(b)
    assert err.value.field == "deribit.toml: currency_pair.btc_usd"


def test_settlement_currency_without_parameters_names_the_table_to_add() -> None:
    data = shipped_file()
    del data["currency"]["btc"]
    b, _ = book(DOC_TIMESTAMP, {"BTC": DOC_INDEX}, DOC_MARKS, DOC_POSITIONS)
    with pytest.raises(InputError, match=r"add a \[currency\.btc\] table") as err:
        model_from(data).compute(b)
    assert err.value.field == "deribit.toml: currency.btc"


def test_user_parameter_file(tmp_path: Any) -> None:
    text = (
        shipped_path_text()
        .replace('mode = "segregated"', 'mode = "cross"')
        .replace("mm_factor = 0.8", "mm_factor = 0.5")
    )
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    model = get_model("deribit", path)
    assert isinstance(model, DeribitModel)
    assert model.params.mode is DeribitMode.CROSS
    assert model.params.general.mm_factor == 0.5
    assert model.with_mode("segregated").params.mode is DeribitMode.SEGREGATED
    with pytest.raises(InputError, match="segregated or cross"):
        model.with_mode("isolated")


def shipped_path_text() -> str:
    from pmargin.margin import methodology_path

    return methodology_path("deribit").read_text(encoding="utf-8")
