"""The market file: validation messages, JSON and YAML, round trips and file errors."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _market_cases import DEC27, NOV29, NOW, SVI_DEC, base

from pmargin.errors import InputError
from pmargin.market import (
    Mark,
    MarketSnapshot,
    RawSVI,
    load_market,
    market_from_dict,
    market_to_dict,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "src" / "pmargin" / "data" / "example_market.json"

Mutation = Callable[[dict[str, Any]], None]


def setter(*path: Any) -> Callable[[Any], Mutation]:
    """A mutation that sets ``data[path[0]]...[path[-1]] = value``."""

    def with_value(value: Any) -> Mutation:
        def mutate(data: dict[str, Any]) -> None:
            target = data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value

        return mutate

    return with_value


def drop(*path: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


index_btc = setter("index", "BTC")
mark_c = setter("marks", "BTC-27DEC24-70000-C")
svi0 = setter("surfaces", "BTC", 0, "svi")
slice0 = setter("surfaces", "BTC", 0)

CASES: list[tuple[str, Mutation, str, str]] = [
    # (id, mutation, field, words in the message)
    (
        "index-negative",
        index_btc(-1.0),
        "index.BTC",
        "-1.0 must be a finite price in [1e-09, 1e+09]",
    ),
    ("index-zero", index_btc(0), "index.BTC", "must be a finite price in [1e-09, 1e+09]"),
    ("index-nan", index_btc(math.nan), "index.BTC", "must be a finite price in [1e-09, 1e+09]"),
    ("index-inf", index_btc(math.inf), "index.BTC", "must be a finite price in [1e-09, 1e+09]"),
    ("index-text", index_btc("69000"), "index.BTC", "must be a finite price in [1e-09, 1e+09]"),
    ("index-bool", index_btc(True), "index.BTC", "must be a finite price in [1e-09, 1e+09]"),
    ("index-usd", setter("index", "USD")(1.0), "index.USD", "reporting currency"),
    ("index-case-dup", setter("index", "btc")(1.0), "index.btc", "duplicates index.BTC"),
    ("index-list", setter("index")([1, 2]), "index", "must be a mapping"),
    (
        "prices-zero",
        setter("prices", "USDC")(0.0),
        "prices.USDC",
        "must be a finite price in [1e-09, 1e+09]",
    ),
    ("prices-usd", setter("prices", "USD")(0.99), "prices.USD", "must be 1"),
    ("prices-text", setter("prices")("USDC=1"), "prices", "must be a mapping"),
    ("rates-nan", setter("rates", "USD")(math.nan), "rates.USD", "finite decimal rate"),
    ("rates-percent", setter("rates", "USD")(5.0), "rates.USD", "not percent"),
    ("rates-text", setter("rates", "USD")("5%"), "rates.USD", "decimal rate"),
    ("mark-both", mark_c({"price": 0.01, "iv": 0.5}), "marks.BTC-27DEC24-70000-C", "both"),
    ("mark-neither", mark_c({}), "marks.BTC-27DEC24-70000-C", "neither"),
    ("mark-iv-zero", mark_c({"iv": 0.0}), "marks.BTC-27DEC24-70000-C.iv", "implied vol > 0"),
    ("mark-iv-neg", mark_c({"iv": -0.2}), "marks.BTC-27DEC24-70000-C.iv", "implied vol > 0"),
    ("mark-iv-nan", mark_c({"iv": math.nan}), "marks.BTC-27DEC24-70000-C.iv", "implied vol > 0"),
    ("mark-iv-points", mark_c({"iv": 55.0}), "marks.BTC-27DEC24-70000-C.iv", "not vol points"),
    (
        "mark-price-neg",
        mark_c({"price": -0.01}),
        "marks.BTC-27DEC24-70000-C.price",
        "0 or in [1e-09, 1e+09]",
    ),
    (
        "mark-extra",
        mark_c({"iv": 0.5, "underlying_price": 69000.0}),
        "marks.BTC-27DEC24-70000-C",
        "not a mark field",
    ),
    ("mark-number", mark_c(0.55), "marks.BTC-27DEC24-70000-C", "must be a mapping"),
    ("marks-list", setter("marks")([]), "marks", "must be a mapping"),
    ("unknown-top", setter("indx")({}), "market", "did you mean 'index'"),
    ("unknown-top-far", setter("portfolio")({}), "market", "valid: timestamp, index"),
    ("timestamp-missing", drop("timestamp"), "timestamp", "is required"),
    ("timestamp-null", setter("timestamp")(None), "timestamp", "is required"),
    ("timestamp-text", setter("timestamp")("yesterday"), "timestamp", "ISO-8601"),
    ("timestamp-bool", setter("timestamp")(True), "timestamp", "not a timestamp"),
    ("svi-b", svi0({**SVI_DEC, "b": -0.1}), "surfaces.BTC[0].svi.b", "must be >= 0"),
    ("svi-rho", svi0({**SVI_DEC, "rho": -1.0}), "surfaces.BTC[0].svi.rho", "between -1 and 1"),
    ("svi-sigma", svi0({**SVI_DEC, "sigma": 0}), "surfaces.BTC[0].svi.sigma", "must be > 0"),
    ("svi-a", svi0({**SVI_DEC, "a": -1.0}), "surfaces.BTC[0].svi.a", "variance negative"),
    ("svi-nan", svi0({**SVI_DEC, "m": math.nan}), "surfaces.BTC[0].svi.m", "finite number"),
    ("svi-missing", svi0({"a": 0.1}), "surfaces.BTC[0].svi.b", "is required"),
    ("svi-list", svi0([0.1, 0.1, 0, 0, 0.1]), "surfaces.BTC[0].svi", "must be a mapping"),
    ("slice-no-svi", drop("surfaces", "BTC", 0, "svi"), "surfaces.BTC[0].svi", "is required"),
    ("slice-no-expiry", drop("surfaces", "BTC", 1, "expiry"), "surfaces.BTC[1].expiry", "required"),
    (
        "slice-extra",
        setter("surfaces", "BTC", 2, "t")(0.4),
        "surfaces.BTC[2]",
        "not a slice field",
    ),
    (
        "slice-bad-expiry",
        setter("surfaces", "BTC", 0, "expiry")("2024-13-45"),
        "surfaces.BTC[0].expiry",
        "not a date",
    ),
    (
        "slice-forward",
        setter("surfaces", "BTC", 0, "forward")(-5),
        "surfaces.BTC[0].forward",
        "finite price in [1e-09, 1e+09]",
    ),
    (
        "slice-duplicate",
        setter("surfaces", "BTC", 2, "expiry")("2024-12-27T08:00:00Z"),
        "surfaces.BTC[2].expiry",
        r"duplicates the expiry of surfaces.BTC[0]",
    ),
    (
        "slice-expired",
        setter("surfaces", "BTC", 1, "expiry")("2024-11-01"),
        "surfaces.BTC[1].expiry",
        "must be after the market timestamp 2024-11-01T08:00:00Z",
    ),
    ("slice-not-mapping", slice0("2024-12-27"), "surfaces.BTC[0]", "must be a mapping"),
    ("surface-not-list", setter("surfaces", "BTC")({"2024-12-27": {}}), "surfaces.BTC", "list"),
    ("surface-empty", setter("surfaces", "BTC")([]), "surfaces.BTC", "at least one slice"),
    ("surfaces-list", setter("surfaces")([]), "surfaces", "must be a mapping"),
    (
        "forward-negative",
        setter("forwards", "BTC", "2024-12-27")(-5.0),
        "forwards.BTC.2024-12-27",
        "finite price in [1e-09, 1e+09]",
    ),
    (
        "forward-bad-key",
        setter("forwards", "BTC", "27DEC24")(70000.0),
        "forwards.BTC.27DEC24",
        "not an ISO-8601",
    ),
    (
        "forward-expired",
        setter("forwards", "BTC", "2024-10-25")(70000.0),
        "forwards.BTC.2024-10-25",
        "must be after the market timestamp",
    ),
    (
        "forward-duplicate",
        setter("forwards", "BTC", "2024-12-27T08:00:00+00:00")(70000.0),
        "forwards.BTC",
        r"duplicates the expiry forwards.BTC.2024-12-27",
    ),
    ("forwards-flat", setter("forwards", "BTC")(70000.0), "forwards.BTC", "must be a mapping"),
]


@pytest.mark.parametrize(
    ("mutate", "field", "words"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_validation_errors_name_the_field(mutate: Mutation, field: str, words: str) -> None:
    data = base()
    mutate(data)
    with pytest.raises(InputError) as err:
        market_from_dict(data)
    assert err.value.field == field
    message = str(err.value)
    assert message.startswith(f"{field}: ")
    assert words in message


def test_the_exact_message_for_a_negative_index() -> None:
    data = base()
    data["index"]["BTC"] = -1.0
    with pytest.raises(InputError) as err:
        market_from_dict(data)
    assert str(err.value) == "index.BTC: -1.0 must be a finite price in [1e-09, 1e+09]"


def test_not_a_mapping_at_all() -> None:
    with pytest.raises(InputError, match="must be a mapping with at least 'timestamp'"):
        market_from_dict([1, 2])  # type: ignore[arg-type]


def test_only_the_timestamp_is_required() -> None:
    snap = market_from_dict({"timestamp": "2024-11-01T08:00:00Z"})
    assert snap == MarketSnapshot(timestamp=NOW)
    assert snap.usd_price("USD") == 1.0
    nulls = {"timestamp": 1730448000000, "index": None, "marks": None, "surfaces": None}
    assert market_from_dict(nulls) == snap  # epoch ms, null sections are empty


def test_content_is_read_with_units_and_normalised_codes() -> None:
    data = base()
    data["index"] = {"btc": 69000, "ETH": 2500.0}
    snap = market_from_dict(data)
    assert snap.index == {"BTC": 69000.0, "ETH": 2500.0}
    assert type(snap.index["BTC"]) is float
    assert snap.forwards["BTC"] == {DEC27: 69880.0}
    assert snap.marks["BTC-27DEC24-60000-P"] == Mark(price=0.0123)
    assert snap.surface("BTC").slice_at(DEC27).svi == RawSVI(**SVI_DEC)  # type: ignore[union-attr]
    assert snap.surface("BTC").slice_at(NOV29).forward is None  # type: ignore[union-attr]


def canonical() -> dict[str, Any]:
    """The base file as market_to_dict writes it: slices sorted, optional forwards kept."""
    data = base()
    data["surfaces"]["BTC"].sort(key=lambda s: s["expiry"])
    return data


def test_round_trip_dict_snapshot_dict() -> None:
    snap = market_from_dict(base())
    out = market_to_dict(snap)
    assert out == canonical()
    assert market_from_dict(out) == snap
    assert market_to_dict(market_from_dict(out)) == out
    json.dumps(out, allow_nan=False)  # plain JSON values only


def test_round_trip_keeps_non_default_expiry_times() -> None:
    data = base()
    data["forwards"]["BTC"] = {"2024-12-27T16:30:00Z": 69900.0}
    out = market_to_dict(market_from_dict(data))
    assert out["forwards"] == {"BTC": {"2024-12-27T16:30:00Z": 69900.0}}
    assert market_from_dict(out) == market_from_dict(data)


YAML_TEXT = """\
# The base market, written the way a person writes YAML (native dates, ints).
timestamp: 2024-11-01T08:00:00Z
index: {BTC: 69000, ETH: 2500}
prices: {USDC: 0.9998, USDT: 1.0003}
rates: {USD: 0.05, BTC: 0.01}
marks:
  BTC-27DEC24-70000-C: {iv: 0.55}
  BTC-27DEC24-60000-P: {price: 0.0123}
forwards:
  BTC:
    2024-12-27: 69880
surfaces:
  BTC:
    - expiry: 2024-12-27
      forward: 69900
      svi: {a: 0.010, b: 0.05, rho: -0.20, m: 0.00, sigma: 0.10}
    - expiry: 2024-11-29
      svi: {a: 0.004, b: 0.03, rho: -0.25, m: 0.01, sigma: 0.12}
    - expiry: "2025-03-28T08:00:00Z"
      forward: 71000
      svi: {a: 0.030, b: 0.08, rho: -0.15, m: 0.02, sigma: 0.20}
"""


def test_yaml_and_json_give_the_same_snapshot(tmp_path: Path) -> None:
    json_file = tmp_path / "market.json"
    json_file.write_text(json.dumps(base()))
    yaml_file = tmp_path / "market.yaml"
    yaml_file.write_text(YAML_TEXT)
    yml_file = tmp_path / "MARKET.YML"
    yml_file.write_text(YAML_TEXT)
    from_json = load_market(json_file)
    assert from_json == load_market(yaml_file) == load_market(str(yml_file))
    assert from_json == market_from_dict(base())


def test_content_errors_from_a_file_name_the_file_and_field(tmp_path: Path) -> None:
    data = base()
    data["index"]["BTC"] = -1.0
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as err:
        load_market(path)
    assert str(err.value) == f"{path}: index.BTC: -1.0 must be a finite price in [1e-09, 1e+09]"


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("bad.json", '{"timestamp": "2024-11-01",\n  "index": {"BTC": 1,}\n}', "line 2, column"),
        ("bad.yaml", "timestamp: 2024-11-01\nindex: {BTC: 1\nrates: {}\n", "is not valid YAML"),
        ("tabs.yml", "timestamp: x\n\tindex: 1\n", "line 2"),
        ("dup.json", '{"timestamp": "2024-11-01", "index": {"BTC": 1, "BTC": 2}}', "'BTC'"),
        ("dup.yaml", "timestamp: 2024-11-01\nindex:\n  BTC: 1\n  BTC: 2\n", "twice at line 4"),
        ("market.txt", "{}", "unknown extension; use .json, .yaml, .yml"),
        ("empty.yaml", "", "market: None must be a mapping"),
    ],
)
def test_file_problems_name_the_file(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_market(path)
    assert str(path) in str(err.value)
    assert words in str(err.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist") as err:
        load_market(tmp_path / "nowhere.json")
    assert err.value.field == "market file"
    folder = tmp_path / "dir.json"
    folder.mkdir()
    with pytest.raises(InputError, match="is a directory"):
        load_market(folder)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("timestamp: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(InputError, match=r"tag .* is not accepted"):
        load_market(path)


@pytest.mark.skipif(not EXAMPLE.is_file(), reason="the shipped example market is not there yet")
def test_shipped_example_loads_and_round_trips() -> None:
    snap = load_market(EXAMPLE)
    raw = json.loads(EXAMPLE.read_text())
    assert snap.timestamp == market_from_dict({"timestamp": raw["timestamp"]}).timestamp
    assert set(snap.index) == {code.upper() for code in raw.get("index", {})}
    assert len(snap.marks) == len(raw.get("marks", {}))
    assert market_from_dict(market_to_dict(snap)) == snap
    for code, surface in snap.surfaces.items():
        assert len(surface.slices) == len(raw["surfaces"][code])


DOC = REPO / "docs" / "market.md"


@pytest.mark.skipif(not DOC.is_file(), reason="docs/market.md is not there")
def test_the_documented_example_loads() -> None:
    text = DOC.read_text()
    block = text.split("```json\n", 1)[1].split("```", 1)[0]
    snap = market_from_dict(json.loads(block))
    assert snap.forward("BTC", DEC27) == 69880.0  # rule 1 beats the BTC-27DEC24 mark
    assert snap.surface("BTC").slice_at(DEC27).forward == 69900.0  # type: ignore[union-attr]
    assert snap.usd_price("USDC") == 0.9998


def test_epoch_seconds_are_refused_not_read_as_1970() -> None:
    seconds = 1_718_619_740.501  # 2024-06-17 as epoch SECONDS
    with pytest.raises(InputError, match=r"timestamp: .* epoch seconds"):
        market_from_dict({"timestamp": seconds, "index": {"BTC": 65_000.0}})
    ms = market_from_dict({"timestamp": 1_718_619_740_501, "index": {"BTC": 65_000.0}})
    assert ms.timestamp.isoformat() == "2024-06-17T10:22:20.501000+00:00"
