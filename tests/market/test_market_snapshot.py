"""MarketSnapshot: prices, rates, marks, surfaces, time, immutability and new snapshots."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import numpy as np
import pytest
from _market_cases import DEC27, MAR28, NOV29, NOW, SVI_DEC, base, svi_w, years

from pmargin.errors import InputError, MarketDataError
from pmargin.instruments import Instrument
from pmargin.market import (
    Mark,
    MarketSnapshot,
    RawSVI,
    SurfaceSlice,
    VolSurface,
    market_from_dict,
)


@pytest.fixture
def snap() -> MarketSnapshot:
    return market_from_dict(base())


def test_usd_prices(snap: MarketSnapshot) -> None:
    assert snap.usd_price("USD") == 1.0
    assert snap.usd_price("usd") == 1.0
    assert snap.usd_price("USDC") == 0.9998
    assert snap.usd_price("BTC") == 69000.0  # defaults to its index
    with_price = snap.with_updates(prices={"BTC": 69010.0})
    assert with_price.usd_price("BTC") == 69010.0  # prices win over the index


def test_stablecoin_without_price_is_never_assumed_one(snap: MarketSnapshot) -> None:
    bare = snap.replace(prices={})
    with pytest.raises(MarketDataError, match=r"no USD price for USDT: add prices\.USDT"):
        bare.usd_price("USDT")


def test_rates_default_to_zero(snap: MarketSnapshot) -> None:
    assert snap.rate("USD") == 0.05
    assert snap.rate("btc") == 0.01
    assert snap.rate("ETH") == 0.0


def test_index_price(snap: MarketSnapshot) -> None:
    assert snap.index_price("eth") == 2500.0
    with pytest.raises(MarketDataError, match=r"add index\.SOL"):
        snap.index_price("SOL")


def test_marks(snap: MarketSnapshot) -> None:
    assert snap.mark("BTC-27DEC24-70000-C") == Mark(iv=0.55)
    assert snap.mark("BTC-27DEC24-60000-P") == Mark(price=0.0123)
    assert snap.mark("BTC-27DEC24-80000-C") is None


def test_surfaces(snap: MarketSnapshot) -> None:
    assert snap.has_surface("btc")
    assert not snap.has_surface("ETH")
    with pytest.raises(MarketDataError, match=r"add surfaces\.ETH"):
        snap.surface("ETH")
    surface = snap.surface("BTC")
    assert surface.asof == snap.timestamp == NOW
    assert surface.expiries == (NOV29, DEC27, MAR28)


def test_surface_vols_vectorised(snap: MarketSnapshot) -> None:
    strikes = np.array([60000.0, 70000.0, 80000.0])
    t = snap.year_fraction(DEC27)
    vols = snap.surface_vols("BTC", strikes, 69900.0, t)
    expected = [np.sqrt(svi_w(SVI_DEC, float(np.log(k / 69900.0))) / t) for k in strikes]
    np.testing.assert_allclose(vols, expected, rtol=1e-13)


def test_year_fraction_is_act365_from_the_timestamp(snap: MarketSnapshot) -> None:
    assert snap.year_fraction(DEC27) == pytest.approx(years(NOW, DEC27), rel=1e-15)
    assert snap.year_fraction("2024-12-27") == snap.year_fraction(DEC27)
    assert snap.year_fraction(NOW - timedelta(days=365)) == pytest.approx(-1.0, rel=1e-15)


def test_frozen_and_deeply_read_only(snap: MarketSnapshot) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.timestamp = NOW  # type: ignore[misc]
    with pytest.raises(TypeError):
        snap.index["BTC"] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        snap.forwards["BTC"][DEC27] = 1.0  # type: ignore[index]
    with pytest.raises(TypeError):
        snap.marks["X"] = Mark(iv=0.5)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.marks["BTC-27DEC24-70000-C"].iv = 0.9  # type: ignore[misc]


def test_inputs_are_copied(snap: MarketSnapshot) -> None:
    index = {"BTC": 1.0}
    direct = MarketSnapshot(timestamp=NOW, index=index)
    index["BTC"] = 2.0
    assert direct.index_price("BTC") == 1.0


def test_equal_content_gives_equal_snapshots() -> None:
    assert market_from_dict(base()) == market_from_dict(base())
    other = base()
    other["index"]["BTC"] = 69001.0
    assert market_from_dict(base()) != market_from_dict(other)


def test_replace_returns_a_new_snapshot(snap: MarketSnapshot) -> None:
    shocked = snap.replace(index={"BTC": 55200.0, "ETH": 2000.0})
    assert shocked.index_price("BTC") == 55200.0
    assert snap.index_price("BTC") == 69000.0
    assert shocked.surfaces == snap.surfaces
    with pytest.raises(InputError, match=r"index\.BTC: -1\.0 must be a finite price in \["):
        snap.replace(index={"BTC": -1.0})


def test_replace_timestamp_rolls_forwards_and_surfaces(snap: MarketSnapshot) -> None:
    later = NOV29 + timedelta(hours=1)
    rolled = snap.replace(timestamp=later)
    assert rolled.timestamp == later
    assert rolled.surface("BTC").expiries == (DEC27, MAR28)
    assert rolled.surface("BTC").asof == later
    assert rolled.forwards["BTC"] == {DEC27: 69880.0}
    past_all = snap.replace(timestamp=MAR28)
    assert not past_all.has_surface("BTC")
    assert dict(past_all.forwards["BTC"]) == {}


def test_with_updates_merges_key_by_key(snap: MarketSnapshot) -> None:
    updated = snap.with_updates(
        index={"sol": 150.0},
        rates={"ETH": 0.02},
        marks={"BTC-27DEC24-80000-C": Mark(iv=0.6)},
        forwards={"BTC": {MAR28: 71100.0}, "ETH": {DEC27: 2520.0}},
    )
    assert updated.index_price("SOL") == 150.0
    assert updated.index_price("BTC") == 69000.0
    assert updated.rate("ETH") == 0.02
    assert updated.rate("USD") == 0.05
    assert updated.mark("BTC-27DEC24-80000-C") == Mark(iv=0.6)
    assert updated.mark("BTC-27DEC24-70000-C") == Mark(iv=0.55)
    assert dict(updated.forwards["BTC"]) == {DEC27: 69880.0, MAR28: 71100.0}
    assert updated.forward("ETH", DEC27) == 2520.0
    assert "SOL" not in snap.index


def test_repr_is_one_short_line(snap: MarketSnapshot) -> None:
    text = repr(snap)
    assert "\n" not in text
    assert "2024-11-01T08:00:00Z" in text
    assert "marks=2" in text


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"prices": {"USD": 0.99}}, "prices.USD", "must be 1"),
        ({"index": {"USD": 1.0}}, "index.USD", "reporting currency"),
        ({"index": {"BTC": 1.0, "btc": 2.0}}, "index.btc", "duplicates index.BTC"),
        ({"index": {"": 1.0}}, "index", "currency code"),
        ({"index": [("BTC", 1.0)]}, "index", "must be a mapping"),
        ({"marks": {"X": {"iv": 0.5}}}, "marks.X", "must be a Mark"),
        ({"forwards": {"BTC": {NOW: 1.0}}}, "forwards.BTC.2024-11-01", "after the market"),
        ({"surfaces": {"BTC": "x"}}, "surfaces.BTC", "must be a VolSurface"),
        ({"instruments": {"X": "spec"}}, "instruments.X", "must be an Instrument"),
        ({"timestamp": "soon"}, "timestamp", "ISO-8601"),
    ],
)
def test_direct_construction_is_validated(
    kwargs: dict[str, object], field: str, words: str
) -> None:
    arguments: dict[str, object] = {"timestamp": NOW, **kwargs}
    with pytest.raises(InputError, match=words) as err:
        MarketSnapshot(**arguments)  # type: ignore[arg-type]
    assert err.value.field == field


def test_surface_must_match_key_and_timestamp() -> None:
    surface = VolSurface("BTC", [SurfaceSlice(DEC27, RawSVI(**SVI_DEC))], NOW)
    with pytest.raises(InputError, match="must match its key") as err:
        MarketSnapshot(timestamp=NOW, surfaces={"ETH": surface})
    assert err.value.field == "surfaces.ETH.underlying"
    with pytest.raises(InputError, match="rolled_to") as err:
        MarketSnapshot(timestamp=NOW + timedelta(hours=1), surfaces={"BTC": surface})
    assert err.value.field == "surfaces.BTC.asof"


def test_instrument_key_must_be_its_symbol() -> None:
    perp = Instrument(symbol="BTC-PERPETUAL", kind="perpetual", underlying="BTC")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="must match its key"):
        MarketSnapshot(timestamp=NOW, instruments={"PERP": perp})


def test_mark_needs_exactly_one_of_price_and_iv() -> None:
    with pytest.raises(InputError, match="neither"):
        Mark()
    with pytest.raises(InputError, match="both"):
        Mark(price=1.0, iv=0.5)
    with pytest.raises(InputError, match="vol points"):
        Mark(iv=55.0)
    assert Mark(price=3).price == 3.0
    assert Mark(iv=0.5).to_dict() == {"iv": 0.5}


def _same_snapshot(mine: MarketSnapshot, theirs: MarketSnapshot) -> None:
    assert mine == theirs
    for name in ("index", "prices", "rates", "marks", "forwards", "surfaces", "instruments"):
        assert list(getattr(mine, name).items()) == list(getattr(theirs, name).items()), name
    assert dict(mine._futures) == dict(theirs._futures)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"index": {"BTC": 69100.0, "sol": 150.0}},
        {"prices": {"usdc": 0.9997}, "rates": {"ETH": 0.02, "BTC": 0.0}},
        {"marks": {"BTC-27DEC24-60000-P": Mark(price=0.02)}},  # same kind: futures index kept
        {"marks": {"BTC-27DEC24-60000-P": Mark(iv=0.6), "BTC-27DEC24": Mark(price=69500.0)}},
        {"marks": {"BTC-27DEC24-80000-C": Mark(iv=0.6)}, "index": {"ETH": 2400.0}},
        {"forwards": {"BTC": {MAR28: 71100.0}}, "index": {"BTC": 70000.0}},
        {},
    ],
)
def test_with_updates_equals_its_reference(snap: MarketSnapshot, kwargs: dict[str, object]) -> None:
    """The fast merge (only the new entries validated) gives the twin's snapshot exactly."""
    mine = snap.with_updates(**kwargs)  # type: ignore[arg-type]
    _same_snapshot(mine, snap.with_updates_reference(**kwargs))  # type: ignore[arg-type]
    later = mine.with_updates(
        index={"BTC": 68000.0}, marks={"BTC-27DEC24-60000-P": Mark(price=0.01)}
    )
    twin = mine.with_updates_reference(
        index={"BTC": 68000.0}, marks={"BTC-27DEC24-60000-P": Mark(price=0.01)}
    )
    _same_snapshot(later, twin)
    assert later.forward("BTC", DEC27) == twin.forward("BTC", DEC27)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"index": {"BTC": -1.0}},
        {"index": {"USD": 1.0}},
        {"index": {"": 1.0}},
        {"index": {"ETH": 2400.0, "BTC": float("nan")}},
        {"prices": {"USD": 0.99}},
        {"rates": {"BTC": 5.0}},
        {"marks": {"X": {"iv": 0.5}}},
        {"marks": {"BTC-PERPETUAL": Mark(iv=0.5)}},
        {"surfaces": {"BTC": "x"}},
    ],
)
def test_with_updates_rejects_what_its_reference_rejects(
    snap: MarketSnapshot, kwargs: dict[str, object]
) -> None:
    with pytest.raises(InputError) as theirs:
        snap.with_updates_reference(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(InputError) as mine:
        snap.with_updates(**kwargs)  # type: ignore[arg-type]
    assert (mine.value.field, mine.value.reason) == (theirs.value.field, theirs.value.reason)


def test_price_checks_take_a_feed_float_as_given_and_refuse_the_rest() -> None:
    """check_price / check_mark_price: a float in range is returned as is (its fast path)."""
    import math

    from pmargin.market._checks import check_mark_price, check_price, price_range

    low, high = price_range()
    for value in (low, high, 95_000.5, (low + high) / 2.0):
        assert check_price(value, "x") == value
        assert type(check_price(value, "x")) is float
        assert check_mark_price(value, "x") == value
    for value in (0.0, -0.0):
        got = check_mark_price(value, "x")
        assert got == 0.0
        assert math.copysign(1.0, got) == math.copysign(1.0, value)
    for value in (np.float64(95_000.5), 95_000):  # converted as before: a Python float
        assert type(check_price(value, "x")) is float
        assert type(check_mark_price(value, "x")) is float
    bad: tuple[object, ...] = (math.nan, math.inf, -math.inf, high * 2.0, -1.0, True, "1")
    for wrong in (*bad, 0.0 if low > 0.0 else math.nan):
        with pytest.raises(InputError):
            check_price(wrong, "x")
    for wrong in bad:
        with pytest.raises(InputError):
            check_mark_price(wrong, "x")
