"""The fused grid revaluation of the kept plan equals ``apply`` + ``instrument_pnl`` bit for bit.

:class:`~pmargin.margin.deribit._revalue.GridRevaluation` writes each underlying's P&L rows
(extended cells weighted) straight into the compiled pass's inputs; its twin
:meth:`~pmargin.margin.deribit._revalue.GridRevaluation.reference` runs
:meth:`~pmargin.scenarios.ScenarioSet.apply` and :func:`~pmargin.risk.instrument_pnl` as
``compute`` does. Seeded books (options inverse and linear, inverse and linear futures), moved
prices and vols, expired options and zero vols (lanes off the kernel's domain: the NumPy
kernel's), and invalid vols (``compute``'s error) give the same bits or the same error.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.errors import InputError
from pmargin.margin import get_model
from pmargin.margin.deribit import DeribitModel
from pmargin.margin.deribit._revalue import GridRevaluation, revalue_kernel
from pmargin.margin.deribit._totals import DeribitTotals
from pmargin.market import load_market
from pmargin.pricing import black76_value
from pmargin.valuation import ResolvedInstruments

pytestmark = pytest.mark.skipif(revalue_kernel() is None, reason="numba absent or PMARGIN_JIT=0")


@pytest.fixture(scope="module")
def book() -> BookArrangement:
    market = load_market(example_path("example_market.json"))
    return arrange(example_portfolio(market, 300, seed=11), market)


def _plans(book: BookArrangement) -> list[tuple[GridRevaluation, ResolvedInstruments, int]]:
    """Each underlying's kept revaluation, its instruments and the pass's row width."""
    model = get_model("deribit")
    assert isinstance(model, DeribitModel)
    totals = DeribitTotals(model, book)
    state = totals._state
    assert state is not None
    width = state.inputs.pnl.shape[1]
    plans = []
    for u in state.underlyings:
        res = book.resolved if u.whole else book.resolved.take(u.columns)
        plans.append((u.revaluation, res, width))
    return plans


def _both(
    plan: GridRevaluation, res: ResolvedInstruments, width: int, *, finite: bool = True
) -> None:
    """Run the fused call and the twin into NaN-filled rows; assert the same bits."""
    fused = np.full((plan.rows.size, width), np.nan)
    twin = np.full((plan.rows.size, width), np.nan)
    plan(res, fused)
    plan.reference(res, twin)
    np.testing.assert_array_equal(fused, twin, strict=True)
    n_s = plan.multiplier.shape[1]
    assert np.isnan(fused[:, n_s:]).all()  # the delta and padding columns are not written
    assert np.isfinite(fused[:, :n_s]).all() or not finite


def _same_error(plan: GridRevaluation, res: ResolvedInstruments, width: int) -> None:
    """Assert the fused call and the twin raise the same :class:`InputError` on ``res``."""
    out = np.zeros((plan.rows.size, width))
    with pytest.raises(InputError) as fused, np.errstate(invalid="ignore"):
        plan(res, out)
    with pytest.raises(InputError) as twin, np.errstate(invalid="ignore"):
        plan.reference(res, out)
    assert str(fused.value) == str(twin.value)


def _moved(res: ResolvedInstruments, seed: int, **fields: Any) -> ResolvedInstruments:
    """``res`` with prices and vols moved at random (seeded), then ``fields`` set."""
    rng = np.random.default_rng(seed)
    n = len(res)
    arrays: dict[str, Any] = {
        "underlying_price": res.underlying_price * rng.uniform(0.8, 1.25, n),
        "vol": np.where(res.is_option, res.vol * rng.uniform(0.5, 2.0, n), res.vol),
        "rate": res.rate + rng.uniform(-0.01, 0.02, n),
    }
    arrays.update(fields)
    return dataclasses.replace(res, terms=res.terms, **arrays)


def test_book_holds_every_kind_of_row(book: BookArrangement) -> None:
    plans = _plans(book)
    assert all(plan.fused for plan, _, _ in plans)
    res = book.resolved
    for option in (True, False):
        for inverse in (True, False):
            assert np.any((res.is_option == option) & (res.is_inverse == inverse))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fused_equals_apply_and_instrument_pnl(book: BookArrangement, seed: int) -> None:
    for plan, res, width in _plans(book):
        _both(plan, res, width)
        _both(plan, _moved(res, seed), width)


def test_off_domain_lanes_take_the_numpy_kernel(book: BookArrangement) -> None:
    """Expired options, a zero vol and a deep strike: the kernel flags them, NumPy prices them."""
    for plan, res, width in _plans(book):
        options = np.flatnonzero(res.is_option)
        time, vol = res.time.copy(), res.vol.copy()
        time[options[::7]] = 0.0  # expired: intrinsic value in every cell
        vol[options[1::9]] = 0.0  # zero vol (floored in the shocked cells, 0 today)
        vol[options[2::11]] = -1.0  # negative: today's value off the domain, cells floored
        moved = _moved(res, 5, time=time, vol=vol)
        fused = np.zeros((plan.rows.size, width))
        plan(moved, fused)
        assert plan._off.any()  # lanes went the NumPy way
        _both(plan, moved, width, finite=False)  # a negative vol's value is NaN, both ways


def test_linear_and_inverse_rows_swapped(book: BookArrangement) -> None:
    """Every row's settlement flipped: linear options and futures become inverse and back."""
    for plan, res, width in _plans(book):
        _both(plan, _moved(res, 7, is_inverse=~res.is_inverse), width)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_invalid_vol_raises_computes_error(book: BookArrangement, bad: float) -> None:
    for plan, res, width in _plans(book):
        vol = res.vol.copy()
        vol[np.flatnonzero(res.is_option)[3]] = bad
        moved = _moved(res, 9, vol=vol)
        _same_error(plan, moved, width)


def test_moved_times_refresh_the_kept_shock_terms(book: BookArrangement) -> None:
    """The vol kinds' shock terms are kept for the options' times and redone when they move.

    Shorter times, the first times again, then a negative time (``compute``'s error) give the
    twin's bits or its error.
    """
    for plan, res, width in _plans(book):
        _both(plan, res, width)
        _both(plan, _moved(res, 3, time=res.time * 0.5), width)
        _both(plan, _moved(res, 4), width)
        time = res.time.copy()
        time[np.flatnonzero(res.is_option)[0]] = -0.01
        moved = _moved(res, 6, time=time)
        _same_error(plan, moved, width)
        _both(plan, res, width)


def test_todays_values_are_black76_values(book: BookArrangement) -> None:
    """The compiled lane's today's values: ``black76_value``'s where not flagged off-domain."""
    for plan, res, _ in _plans(book):
        options = plan._options
        time, vol = res.time.copy(), res.vol.copy()
        time[options[::5]] = 0.0
        vol[options[1::6]] = 0.0
        vol[options[2::7]] = -1.0
        moved = _moved(res, 8, time=time, vol=vol)
        kernel = revalue_kernel()
        assert kernel is not None
        value = np.empty(options.size)
        off = np.empty(options.size, dtype=bool)
        with np.errstate(all="ignore"):
            n_off = kernel.option_values(
                options, moved.underlying_price, moved.strike, moved.time, moved.vol,
                moved.rate, moved.is_call, value, off,
            )  # fmt: skip
            expected = black76_value(
                moved.underlying_price[options], moved.strike[options], moved.time[options],
                moved.vol[options], moved.is_call[options], moved.rate[options],
            )  # fmt: skip
        assert n_off == off.sum() > 0
        np.testing.assert_array_equal(value[~off], expected[~off], strict=True)
