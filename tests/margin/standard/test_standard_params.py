"""Parameter files of the standard model: the shipped file, user files and their errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from _standard_cases import INDEX_BTC, account, margin

from pmargin.book import arrange, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.margin import get_model, load_parameter_file, methodology_path
from pmargin.margin.standard import StandardModel, StandardParams
from pmargin.market import market_from_dict

FUTURE = "im_rate = 0.02\nim_rate_per_unit = 0.00005\nmm_rate = 0.01\nmm_rate_per_unit = 0.00005\n"
OPTION = "im_rate = 0.15\nim_min_rate = 0.10\nmm_rate = 0.075\nmm_put_mark_rate = 0.075\n"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _model(tmp_path: Path, text: str) -> StandardModel:
    model = get_model("standard", _file(tmp_path, text))
    assert isinstance(model, StandardModel)
    return model


def _minimal(future: str = FUTURE, option: str = OPTION) -> str:
    return f"[futures.BTC]\n{future}\n[options.BTC]\n{option}"


def test_shipped_file_holds_deribits_published_numbers() -> None:
    params = StandardParams.from_table(load_parameter_file("standard"))
    btc, eth = params.futures["BTC"], params.futures["ETH"]
    assert (btc.im_rate, btc.im_rate_per_unit, btc.mm_rate, btc.mm_rate_per_unit) == (
        0.02,
        0.00005,
        0.01,
        0.00005,
    )
    assert (eth.im_rate, eth.im_rate_per_unit, eth.mm_rate, eth.mm_rate_per_unit) == (
        0.02,
        0.000004,
        0.01,
        0.000004,
    )
    for underlying in ("BTC", "ETH"):
        rule = params.options[underlying]
        assert (rule.im_rate, rule.im_min_rate, rule.mm_rate, rule.mm_put_mark_rate) == (
            0.15,
            0.10,
            0.075,
            0.075,
        )
    assert params.linear_future_price == "index"
    assert params.option_underlying_price == "forward"


def test_every_shipped_table_states_its_source() -> None:
    data = tomllib.loads(methodology_path("standard").read_text(encoding="utf-8"))
    assert isinstance(data["source"], str)
    tables = [data["general"], *data["futures"].values(), *data["options"].values()]
    assert all(isinstance(table["source"], str) and table["source"] for table in tables)


def test_user_file_changes_the_numbers(tmp_path: Path) -> None:
    future = FUTURE.replace("im_rate = 0.02", "im_rate = 0.05")
    result = margin(account("a", ("BTC-PERPETUAL", 2.0)), model=_model(tmp_path, _minimal(future)))
    np.testing.assert_allclose(result.risk_units[0].initial_margin, [2 * (0.05 + 2 * 0.00005)])
    np.testing.assert_allclose(result.initial_margin, [2 * (0.05 + 2 * 0.00005) * INDEX_BTC])


def test_linear_future_at_its_mark_when_asked(tmp_path: Path) -> None:
    text = '[general]\nlinear_future_price = "mark"\n' + _minimal()
    result = margin(account("a", ("BTC_USDC-PERPETUAL", 25.0)), model=_model(tmp_path, text))
    np.testing.assert_allclose(result.risk_units[0].initial_margin, [0.53125 * 98_400.0])


def test_option_otm_from_the_index_when_asked(tmp_path: Path) -> None:
    # Index 98,000: the 110,000 call is (110,000 - 98,000) / 98,000 out of the money.
    text = '[general]\noption_underlying_price = "index"\n' + _minimal()
    result = margin(account("a", ("BTC-28MAR25-110000-C", -1.0)), model=_model(tmp_path, text))
    otm = (110_000 - INDEX_BTC) / INDEX_BTC
    np.testing.assert_allclose(
        result.risk_units[0].initial_margin, [max(0.15 - otm, 0.10) + 0.02], rtol=1e-9
    )


def test_default_table_covers_other_underlyings(tmp_path: Path) -> None:
    text = _minimal() + "\n[futures.default]\n" + FUTURE.replace("0.02", "0.1", 1)
    result = margin(account("a", ("XRP_USDC-PERPETUAL", 1_000.0)), model=_model(tmp_path, text))
    # 1,000 XRP at index 2.5 USD, in USDC.
    expected = 1_000 * (0.1 + 1_000 * 0.00005) * 2.5 / 0.999
    np.testing.assert_allclose(result.risk_units[0].initial_margin, [expected], rtol=1e-12)


@pytest.mark.parametrize(
    ("symbol", "table"),
    [("XRP_USDC-PERPETUAL", "futures.XRP"), ("ETH-28MAR25-4400-C", "options.ETH")],
)
def test_instrument_without_parameters_names_the_table(
    tmp_path: Path, symbol: str, table: str
) -> None:
    model = _model(tmp_path, _minimal())
    with pytest.raises(InputError, match=rf"mine\.toml: {table}.*\[{table}\]") as info:
        margin(account("a", (symbol, -1.0)), model=model)
    assert symbol in str(info.value)


def test_shipped_defaults_cover_any_underlying() -> None:
    # [futures.default]: 4% IM, 2% MM, no size increase; 1,000 XRP at index 2.5 USD, in USDC.
    result = margin(account("a", ("XRP_USDC-PERPETUAL", -1_000.0)))
    unit = result.risk_units[0]
    assert (unit.underlying, unit.currency) == ("XRP", "USDC")
    np.testing.assert_allclose(unit.initial_margin, [1_000 * 0.04 * 2.5 / 0.999], rtol=1e-12)
    np.testing.assert_allclose(unit.maintenance_margin, [1_000 * 0.02 * 2.5 / 0.999], rtol=1e-12)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        # missing fields and tables
        (_minimal(future=FUTURE.replace("im_rate = 0.02\n", "")), "futures.BTC.im_rate"),
        (_minimal(option=OPTION.replace("mm_rate = 0.075\n", "")), "options.BTC.mm_rate"),
        (f"[options.BTC]\n{OPTION}", "futures"),
        # out of range
        (_minimal(future=FUTURE.replace("0.02", "1.5", 1)), "futures.BTC.im_rate"),
        (_minimal(future=FUTURE.replace("0.01", "-0.01", 1)), "futures.BTC.mm_rate"),
        (
            _minimal(future=FUTURE.replace("mm_rate = 0.01", "mm_rate = 0.03")),
            "futures.BTC.mm_rate",
        ),
        (
            _minimal(
                future=FUTURE.replace("mm_rate_per_unit = 0.00005", "mm_rate_per_unit = 1e-4")
            ),
            "futures.BTC.mm_rate_per_unit",
        ),
        (_minimal(option=OPTION.replace("0.10", "0.2")), "options.BTC.im_min_rate"),
        (
            _minimal(option=OPTION.replace("mm_rate = 0.075", "mm_rate = 0.12")),
            "options.BTC.mm_rate",
        ),
        (
            _minimal(option=OPTION.replace("im_rate = 0.15", 'im_rate = "15%"')),
            "options.BTC.im_rate",
        ),
        # unknown fields and bad choices
        (_minimal(future=FUTURE + "im_rte = 0.1\n"), "futures.BTC.im_rte"),
        ("spot = 1\n" + _minimal(), "spot"),
        ('[general]\nlinear_future_price = "last"\n' + _minimal(), "general.linear_future_price"),
        ('[general]\noption_price = "index"\n' + _minimal(), "general.option_price"),
        ("source = 3\n" + _minimal(), "source"),
        ("[futures]\nBTC = 0.02\n" + f"[options.BTC]\n{OPTION}", "futures.BTC"),
    ],
)
def test_bad_parameter_file_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(InputError) as info:
        _model(tmp_path, text)
    assert info.value.field == f"mine.toml: {field}"


def test_unreadable_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        get_model("standard", tmp_path / "absent.toml")
    with pytest.raises(InputError, match="not valid TOML"):
        get_model("standard", _file(tmp_path, "[futures.BTC\n"))


def test_shipped_option_default_margins_an_explicit_index_option() -> None:
    # A short SPX put (explicit spec, USD-settled, 100 per contract): 5% out of the money.
    data = {
        "timestamp": "2025-01-10T00:00:00Z",
        "index": {"SPX": 6_000.0},
        "forwards": {"SPX": {"2025-03-21": 6_000.0}},
        "marks": {"SPX-20250321-5700-P": {"price": 60.0}},
    }
    portfolio = {
        "accounts": [
            {
                "id": "spx",
                "positions": [
                    {"instrument": "SPX-20250321-5700-P", "quantity": -2, "unit": "contracts"}
                ],
            }
        ],
        "instruments": [
            {
                "symbol": "SPX-20250321-5700-P",
                "kind": "option",
                "underlying": "SPX",
                "expiry": "2025-03-21",
                "strike": 5_700.0,
                "right": "put",
                "settlement": "linear",
                "quote": "USD",
                "contract_size": 100.0,
            }
        ],
    }
    snapshot = market_from_dict(data)
    result = get_model("standard").compute(arrange(portfolio_from_dict(portfolio), snapshot))
    otm = (6_000.0 - 5_700.0) / 6_000.0
    per_unit = max(0.15 - otm, 0.10) * 6_000.0 + 60.0
    np.testing.assert_allclose(result.initial_margin, [200 * per_unit], rtol=1e-9)
    assert (result.risk_units[0].underlying, result.risk_units[0].currency) == ("SPX", "USD")
