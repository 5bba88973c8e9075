"""The compact shock syntax and scenario files: what parses, and errors naming the part."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmargin.errors import InputError
from pmargin.scenarios import VolShockMode
from pmargin.stress import CorrelationShock, StressShock, load_shocks, parse_shock


def test_spot_and_vol_parts() -> None:
    shock = parse_shock("BTC=-0.3, eth=-40%, vol=+0.5, BTC.vol=+10pt")
    assert isinstance(shock, StressShock)
    assert shock.name == "BTC=-0.3, eth=-40%, vol=+0.5, BTC.vol=+10pt"
    assert dict(shock.spot_moves) == {"BTC": -0.3, "ETH": pytest.approx(-0.4)}
    assert shock.vol_shock("ETH") == shock.vol_shocks["*"]
    assert shock.vol_shocks["*"].value == 0.5
    assert shock.vol_shocks["*"].mode is VolShockMode.RELATIVE
    btc = shock.vol_shock("BTC")
    assert btc is not None
    assert (btc.value, btc.mode) == (pytest.approx(0.10), VolShockMode.ABSOLUTE)
    assert shock.multiplier("SOL") == 1.0


def test_correlation_shock() -> None:
    shock = parse_shock("corr=0.9,q=0.975,horizon=2d,n=500,seed=3,vol=+20%", name="c")
    assert isinstance(shock, CorrelationShock)
    assert (shock.name, shock.factor, shock.level, shock.horizon_hours) == ("c", 0.9, 0.975, 48.0)
    assert (shock.n_scenarios, shock.seed) == (500, 3)
    assert shock.vol_shocks["*"].value == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("BTC=abc", "BTC=abc"),
        ("BTC=-0.3,ETH", "ETH"),
        ("BTC=-0.3,,ETH=-0.1", "BTC=-0.3,,ETH=-0.1"),
        ("BTC=-1", "BTC=-1"),
        ("BTC=-120%", "BTC=-120%"),
        ("BTC=-0.1,btc=-0.2", "btc=-0.2"),
        ("BTC=+5pt", "BTC=+5pt"),
        ("vol=-1.5", "vol=-1.5"),
        ("B-T=0.1", "B-T=0.1"),
        ("q=0.99", "q=0.99"),
        ("corr=1.5", "corr=1.5"),
        ("corr=0.5,q=1", "q=1"),
        ("corr=0.5,n=ten", "n=ten"),
        ("corr=0.5,BTC=-0.1", "corr=0.5"),
        ("", ""),
    ],
)
def test_bad_shock_names_the_part(text: str, part: str) -> None:
    with pytest.raises(InputError) as info:
        parse_shock(text)
    assert info.value.field == "shock"
    assert info.value.value == part
    assert repr(part) in str(info.value)


def test_file_of_named_scenarios(tmp_path: Path) -> None:
    yaml_file = tmp_path / "s.yaml"
    yaml_file.write_text(
        "scenarios:\n"
        "  - {name: crash, shock: 'BTC=-0.3,ETH=-0.4,vol=+0.5'}\n"
        "  - name: depeg\n"
        "    spot: {BTC: -0.1, USDC: -0.05}\n"
        "    vol: {'*': 0.2}\n"
        "    vol_points: {ETH: 15}\n"
        "  - name: together\n"
        "    correlation: {factor: 1.0, level: 0.99, horizon: 1d, n_scenarios: 100}\n"
    )
    crash, depeg, together = load_shocks(yaml_file)
    assert isinstance(crash, StressShock)
    assert crash.name == "crash"
    assert crash.spot_moves["ETH"] == -0.4
    assert isinstance(depeg, StressShock)
    assert depeg.spot_moves["USDC"] == -0.05
    eth = depeg.vol_shock("ETH")
    assert eth is not None
    assert (eth.value, eth.mode) == (pytest.approx(0.15), VolShockMode.ABSOLUTE)
    assert isinstance(together, CorrelationShock)
    assert together.n_scenarios == 100

    json_file = tmp_path / "s.json"
    json_file.write_text(json.dumps({"down": "BTC=-0.2", "up": "BTC=+0.2"}))
    assert [s.name for s in load_shocks(json_file)] == ["down", "up"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"scenarios": [{"name": "x", "spot": {"BTC": -2}}]}, "scenarios[0].spot.BTC"),
        ({"scenarios": [{"name": "x", "spto": {}}]}, "scenarios[0].spto"),
        ({"scenarios": [{"name": "x", "shock": "BTC="}]}, "scenarios[0].shock"),
        ({"scenarios": [{"name": "x"}, {"name": "x"}]}, "name"),
        ({"scenarios": []}, "scenarios"),
    ],
)
def test_bad_file_names_file_and_field(tmp_path: Path, doc: dict, field: str) -> None:  # type: ignore[type-arg]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as info:
        load_shocks(path)
    assert info.value.field == f"{path}: {field}"
