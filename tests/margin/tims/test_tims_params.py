"""tims.toml: the shipped file loads; bad fields and unknown portfolio types name the field."""

from __future__ import annotations

from typing import Any

import pytest
from _tims_cases import shipped, table

from pmargin.errors import InputError
from pmargin.instruments import Kind
from pmargin.margin import get_model
from pmargin.margin.tims import TimsModel, TimsParams


def test_shipped_file() -> None:
    model = get_model("tims")
    assert isinstance(model, TimsModel)
    p = model.params
    assert p.points_per_side == 5
    assert (p.portfolio_type("SPX").down, p.portfolio_type("SPX").up) == (0.08, 0.06)
    assert (p.portfolio_type("RUT").down, p.portfolio_type("RUT").up) == (0.10, 0.10)
    assert (p.portfolio_type("AAPL").down, p.portfolio_type("aapl").up) == (0.15, 0.15)
    assert p.per_contract == 0.375
    assert p.minimum_kinds == {Kind.OPTION, Kind.FUTURE, Kind.PERPETUAL}
    group = p.product_group("NDX")
    assert group is not None
    assert group.offset == 0.90
    assert "SPX" in group.members
    assert p.product_group("AAPL") is None
    assert "product_groups" in p.assumed


def test_portfolio_type_comes_from_the_file() -> None:
    data = shipped()
    data["underlyings"]["AAPL"] = "broad_index"
    data["underlyings"]["default"] = "high_cap_broad_index"
    p = TimsParams.from_table(table(data))
    assert p.portfolio_type("AAPL").name == "broad_index"
    assert p.portfolio_type("TSLA").name == "high_cap_broad_index"


def _edit(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("underlyings.SPX", "mega_index", "tims.toml: underlyings.SPX"),
        ("underlyings.default", "unknown", "tims.toml: underlyings.default"),
        ("minimum.per_contract", KeyError, "tims.toml: minimum.per_contract"),
        ("minimum.per_contract", -0.375, "tims.toml: minimum.per_contract"),
        ("minimum.kinds", ["option", "swap"], "tims.toml: minimum.kinds[1]"),
        ("portfolio_types.equity.down", 1.5, "tims.toml: portfolio_types.equity.down"),
        ("portfolio_types.equity.up", KeyError, "tims.toml: portfolio_types.equity.up"),
        ("valuation.points_per_side", 0, "tims.toml: valuation.points_per_side"),
        ("product_groups.0.offset", 1.5, "tims.toml: product_groups[0].offset"),
        ("product_groups.0.members", ["SPX", "AAPL"], "tims.toml: product_groups[0].members"),
        ("product_groups.1.members", ["RUT", "NDX"], "tims.toml: product_groups[1].members"),
        ("assumed", ["nothing.here"], "tims.toml: assumed[0]"),
        ("methodology", "okx", "tims.toml: methodology"),
    ],
)
def test_bad_field_is_named(path: str, value: Any, field: str) -> None:
    data = shipped()
    _edit(data, path, value)
    with pytest.raises(InputError) as err:
        TimsParams.from_table(table(data))
    assert err.value.field == field
