"""The shared margin machinery: parameter tables, registry errors, worst loss, attribution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from pmargin.errors import InputError
from pmargin.instruments import parse_symbol
from pmargin.margin import MODELS, ParamTable, get_model, load_parameter_file, methodology_path
from pmargin.margin._scenario_margin import (
    binding_contribution,
    group_columns,
    scatter_columns,
    unit_pnl,
    worst_loss,
)


def test_every_registered_model_ships_a_parameter_file_that_loads() -> None:
    for name in MODELS:
        assert methodology_path(name).is_file(), name
        model = get_model(name)
        assert model.name == name


def test_unknown_model_names_the_known_ones() -> None:
    with pytest.raises(InputError, match="model: 'spam' is not a known model") as info:
        get_model("spam")
    assert "deribit" in str(info.value)


def test_parameter_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_parameter_file("deribit", tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("price_range = [")
    with pytest.raises(InputError, match="is not valid TOML"):
        load_parameter_file("deribit", bad)


def test_param_table_bounds_and_paths() -> None:
    table = ParamTable({"a": 0.5, "sub": {"b": -1, "c": "x", "d": [1, 2]}}, "m.toml")
    assert table.number("a", low=0.0, high=1.0) == 0.5
    with pytest.raises(InputError, match=r"m.toml: a: 0.5 must be a finite number in \[0, 0.4\]"):
        table.number("a", low=0.0, high=0.4)
    sub = table.table("sub")
    with pytest.raises(InputError, match=r"m.toml: sub.b: -1 must be an integer >= 0"):
        sub.integer("b")
    with pytest.raises(InputError, match=r"m.toml: sub.c: 'x' must be one of y\|z"):
        sub.text("c", choices=("y", "z"))
    assert sub.numbers("d", min_len=2) == (1.0, 2.0)
    with pytest.raises(InputError, match=r"m.toml: sub.e: None is required"):
        sub.number("e")
    assert sub.number("e", 3.0) == 3.0
    with pytest.raises(InputError, match=r"m.toml: sub.d: \[1, 2\] is not a known field"):
        sub.reject_unknown(["b", "c"])


def test_worst_loss_picks_the_smallest_pnl_and_no_loss_gives_minus_one() -> None:
    pnl = np.array([[3.0, -2.0, -5.0, 1.0], [1.0, 2.0, 0.0, 4.0], [-1.0, -1.0, 0.5, 0.0]])
    loss, scenario = worst_loss(pnl)
    np.testing.assert_array_equal(loss, [5.0, 0.0, 1.0])
    np.testing.assert_array_equal(scenario, [2, -1, 0])
    empty_loss, empty_scenario = worst_loss(np.zeros((2, 0)))
    np.testing.assert_array_equal(empty_loss, [0.0, 0.0])
    np.testing.assert_array_equal(empty_scenario, [-1, -1])


def test_unit_pnl_and_binding_contributions_add_up_to_the_worst_loss() -> None:
    rng = np.random.default_rng(3)
    quantity = sparse.random_array((30, 8), density=0.4, rng=rng, format="csr") * 10 - 0.0
    quantity.data -= 5.0
    columns = np.array([1, 3, 4, 6])
    instrument_pnl = rng.normal(size=(4, 7))
    pnl = unit_pnl(quantity, columns, instrument_pnl)
    dense = quantity.toarray()[:, columns]
    np.testing.assert_allclose(pnl, dense @ instrument_pnl, rtol=1e-12, atol=1e-12)
    loss, scenario = worst_loss(pnl)
    contribution = binding_contribution(quantity, columns, instrument_pnl, scenario)
    np.testing.assert_allclose(contribution.sum(axis=1), loss, rtol=1e-12, atol=1e-12)
    full = scatter_columns([(columns, contribution)], quantity.shape)
    assert full.shape == quantity.shape
    np.testing.assert_allclose(full.toarray()[:, columns], contribution.toarray())


def test_group_columns_keeps_first_appearance_order() -> None:
    instruments = [parse_symbol(s) for s in ("ETH-PERPETUAL", "BTC-PERPETUAL", "ETH-27DEC24")]
    groups = group_columns(instruments, lambda i: i.underlying)
    assert list(groups) == ["ETH", "BTC"]
    np.testing.assert_array_equal(groups["ETH"], [0, 2])


def test_a_parameter_file_may_override_a_shipped_base(tmp_path: Path) -> None:
    override = tmp_path / "mine.toml"
    override.write_text('base = "deribit"\n[general]\nmm_factor = 0.5\n')
    table = load_parameter_file("deribit", override)
    shipped = load_parameter_file("deribit")
    assert table.table("general").number("mm_factor") == 0.5
    for key in shipped.table("general").data:
        if key != "mm_factor":
            assert table.table("general").raw(key) == shipped.table("general").raw(key)
    assert table.keys() == shipped.keys()
    cross = get_model("deribit-cross")
    assert cross.name == "deribit-cross"
    assert load_parameter_file("deribit-cross").table("model").text("mode") == "cross"
    bad = tmp_path / "bad.toml"
    bad.write_text('base = "nothing-like-it"\n')
    with pytest.raises(InputError, match=r"bad\.toml: base: 'nothing-like-it' must name a shipped"):
        load_parameter_file("deribit", bad)
