"""okx.toml: the shipped file loads; a missing or out-of-range field names itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _okx_cases import shipped, table

from pmargin.errors import InputError
from pmargin.margin import get_model
from pmargin.margin.okx import OkxModel, OkxParams
from pmargin.scenarios import VolShockKind


def test_shipped_file_published_values() -> None:
    model = get_model("okx")
    assert isinstance(model, OkxModel)
    p = model.params
    assert p.im_factor == 1.3
    assert p.mr1_moves.lookup("BTC") == (0.04, 0.08, 0.12)
    assert p.mr1_moves.lookup("eth") == (0.04, 0.08, 0.12)
    assert p.mr1_moves.lookup("LINK") == (0.06, 0.12, 0.18)
    assert p.mr1_moves.lookup("NEWCOIN") == (0.08, 0.16, 0.25)
    # OKX reports vol "up" when all vol columns tie (published example): up comes first.
    assert p.mr1_vol_scenarios == (VolShockKind.UP, VolShockKind.NONE, VolShockKind.DOWN)
    assert dict(p.mr1_shock_price) == {"perpetual": "index", "future": "mark"}
    assert p.mr6_moves.lookup("BTC") == 0.24
    assert p.mr6_moves.lookup("SOL") == 0.36
    assert p.mr6_moves.lookup("NEWCOIN") == 0.50
    assert p.mr4_annual_move.lookup("ETH") == 0.05
    assert p.mr4_annual_move.lookup("DOGE") == 0.15
    assert p.mr4_annual_move.lookup("NEWCOIN") == 0.30
    # Values pinned by OKX's published position-builder example (test_okx_published.py).
    assert p.im_factor == 1.3
    assert p.mr6_weight == 0.5
    assert p.mr4_perpetual_move.lookup("BTC") == 0.002
    assert p.mr7_rates["perpetual"].lookup("BTC") == 0.0045
    # The example's LTC values are LTC's alone (tests/margin/okx/okx-ltc-example.toml): the
    # shipped tiers carry only what OKX publishes for them, so LTC and its tier-2 peers take
    # the assumed defaults for the perpetual basis move and the MR7 rates.
    for coin in ("LTC", "SOL", "XRP"):
        assert p.mr4_perpetual_move.lookup(coin) == p.mr4_perpetual_move.default == 0.016
        assert p.mr7_rates["perpetual"].lookup(coin) == p.mr7_rates["perpetual"].default == 0.010
        assert p.mr7_rates["future"].lookup(coin) == p.mr7_rates["future"].default == 0.010
    assert not p.mr8_enabled  # off in the shipped file (see okx.toml [mr8])
    assert p.mr8_mmr_rate.lookup("USDT") == 0.02
    assert p.mr8_imr_rate.lookup("USDT") == 0.10
    scale = p.mr7_scaling.lookup("BTC")
    assert scale.bounds == (10_000, 70_000, 170_000, 300_000, 470_000, 700_000)
    assert scale.multipliers == (1, 2, 4, 6, 8, 10, 12)
    assert "mr7.rates.option" in p.assumed
    assert "mr4.perpetual_move.default" in p.assumed
    assert "mr6.weight" not in p.assumed


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def edit(data: dict[str, Any]) -> None:
        node = data
        for part in parents:
            node = node[part]
        del node[last]

    return edit


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def edit(data: dict[str, Any]) -> None:
        node = data
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (_drop("margin.im_factor"), "okx.toml: margin.im_factor"),
        (_set("margin.im_factor", 0.5), "okx.toml: margin.im_factor"),
        (_drop("mr1.moves.default"), "okx.toml: mr1.moves.default"),
        (_set("mr1.moves.majors", [0.04, 0.08]), "okx.toml: mr1.moves"),
        (_set("mr1.moves.majors", [0.04, 1.2, 1.3]), "okx.toml: mr1.moves.majors[1]"),
        (_set("mr1.moves.nonsense", [0.1, 0.2, 0.3]), "okx.toml: mr1.moves.nonsense"),
        (_set("mr1.vol_scenarios", ["up", "sideways"]), "okx.toml: mr1.vol_scenarios[1]"),
        (_set("mr1.vol_shock.range_down", 1.5), "okx.toml: mr1.vol_shock.range_down"),
        (_set("mr6.weight", 0.0), "okx.toml: mr6.weight"),
        (_set("mr6.moves.majors", 1.0), "okx.toml: mr6.moves.majors"),
        (_set("mr4.annual_move.default", -0.1), "okx.toml: mr4.annual_move.default"),
        (_set("mr4.form", "max_forward_move"), "okx.toml: mr4.form"),
        (_drop("mr2.source"), "okx.toml: mr2.source"),
        (_set("mr7.rates.swap", 0.001), "okx.toml: mr7.rates.swap"),
        (
            _set("mr7.scaling.majors.multipliers", [1, 2]),
            "okx.toml: mr7.scaling.majors.multipliers",
        ),
        (
            _set("mr7.scaling.majors.bounds", [10, 5, 20, 30, 40, 50]),
            "okx.toml: mr7.scaling.majors.bounds",
        ),
        (_set("assumed", ["mr9.size"]), "okx.toml: assumed[0]"),
        (_set("schema_version", 1), "okx.toml: schema_version"),
        (_set("mr1.shock_price.perpetual", "last"), "okx.toml: mr1.shock_price.perpetual"),
        (_set("mr1.shock_price.option", "index"), "okx.toml: mr1.shock_price.option"),
        (_set("mr4.perpetual_move.default", 0.9), "okx.toml: mr4.perpetual_move.default"),
        (_set("mr7.rates.perpetual.default", 2.0), "okx.toml: mr7.rates.perpetual.default"),
        (_drop("mr7.rates.future.default"), "okx.toml: mr7.rates.future.default"),
        (_set("mr8.enabled", "yes"), "okx.toml: mr8.enabled"),
        (_set("mr8.imr_rate.usdt", -0.1), "okx.toml: mr8.imr_rate.usdt"),
        (_drop("mr8.source"), "okx.toml: mr8.source"),
        (_set("typo", 1), "okx.toml: typo"),
        (_set("groups.majors", []), "okx.toml: groups.majors"),
    ],
)
def test_bad_field_is_named(edit: Callable[[dict[str, Any]], None], field: str) -> None:
    data = shipped()
    edit(data)
    with pytest.raises(InputError) as err:
        OkxParams.from_table(table(data))
    assert err.value.field == field


def test_coin_in_two_groups_of_one_table_is_rejected() -> None:
    data = shipped()
    data["groups"]["mr1_tier2"].append("BTC")
    with pytest.raises(InputError) as err:
        OkxParams.from_table(table(data))
    assert err.value.field == "okx.toml: mr1.moves.mr1_tier2"
    assert err.value.value == "BTC"
