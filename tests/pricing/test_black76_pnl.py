"""``black76_pnl`` (one compiled pass) equals its twin, two ``black76_value`` calls, bit for bit.

Random options (``conftest.random_options``) under random multipliers and scenario vols,
linear and inverse, with time shifts that take some options to or past expiry, broadcast
inputs, and invalid lanes (NaN, zero or negative multipliers and vols): the off-domain lanes
go through the NumPy kernel on both sides, so every lane is equal, NaN where NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.pricing import _black76_pnl, black76_pnl, black76_pnl_reference, kernel_name

pytest.importorskip("numba", exc_type=ImportError)

if kernel_name() != "numba":  # PMARGIN_JIT=0: black76_pnl is the reference itself
    pytest.skip("the compiled kernel is switched off", allow_module_level=True)


def _scenarios(rng: np.random.Generator, n: int, n_s: int) -> tuple[np.ndarray, np.ndarray]:
    mult = np.exp(rng.uniform(np.log(0.1), np.log(6.0), (n, n_s)))
    vol = np.exp(rng.uniform(np.log(0.01), np.log(3.0), (n, n_s)))
    return mult, vol


@pytest.mark.parametrize("time_shift", [0.0, 1.0 / 365.0, 0.5])
def test_equals_reference_bit_for_bit(make_options: Callable[..., Any], time_shift: float) -> None:
    """Linear and inverse rows, 35 scenarios, some at or past expiry after the shift."""
    f, k, t, v, c, r = make_options(3_000, seed=11)
    rng = np.random.default_rng(12)
    mult, vol = _scenarios(rng, f.size, 35)
    inverse = rng.random(f.size) < 0.5
    args = (f, k, t, v, c, r, mult, vol)
    fast = black76_pnl(*args, inverse=inverse, time_shift=time_shift)
    reference = black76_pnl_reference(*args, inverse=inverse, time_shift=time_shift)
    assert fast.shape == (f.size, 35)
    np.testing.assert_array_equal(fast, reference)


def test_broadcast_and_invalid_lanes(make_options: Callable[..., Any]) -> None:
    """``(m, 1)`` and ``(S,)`` inputs broadcast; NaN, 0 and negative lanes match the reference."""
    f, k, t, v, c, r = make_options(500, seed=13)
    rng = np.random.default_rng(14)
    moves = rng.uniform(0.5, 1.5, 9)
    moves[[2, 5]] = [0.0, -1.0]
    vol = v[:, None] + 0.1
    vol[::7] = np.nan
    vol[3::11] = -0.2
    vol[5::13] = 0.0
    for inverse in (False, True):
        fast = black76_pnl(f, k, t, v, c, r, moves, vol, inverse=inverse, time_shift=0.01)
        reference = black76_pnl_reference(
            f, k, t, v, c, r, moves, vol, inverse=inverse, time_shift=0.01
        )
        assert fast.shape == (f.size, moves.size)
        np.testing.assert_array_equal(fast, reference)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(0, 40),
    n_s=st.integers(1, 50),
    shift=st.sampled_from([0.0, 1e-3, 0.1, 3.0]),
)
def test_random_shapes_equal_reference(seed: int, n: int, n_s: int, shift: float) -> None:
    """Any size (none included), any scenario count: the same bits."""
    rng = np.random.default_rng(seed)
    f = np.exp(rng.uniform(0.0, 11.0, n))
    k = f * np.exp(rng.uniform(-1.5, 1.5, n))
    t = rng.uniform(-0.01, 2.0, n)
    v = rng.uniform(0.0, 2.0, n)
    c = rng.random(n) < 0.5
    r = rng.uniform(-0.02, 0.1, n)
    mult, vol = _scenarios(rng, n, n_s)
    inverse = rng.random(n) < 0.5
    args = (f, k, t, v, c, r, mult, vol)
    fast = black76_pnl(*args, inverse=inverse, time_shift=shift)
    reference = black76_pnl_reference(*args, inverse=inverse, time_shift=shift)
    np.testing.assert_array_equal(fast, reference)


@pytest.mark.parametrize("major", [False, True])
def test_both_loop_orders_equal_reference(
    make_options: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, major: bool
) -> None:
    """Option-major and scenario-major compiled loops, forced either way, with invalid lanes.

    ``black76_pnl`` picks the order by shape (:func:`~pmargin.pricing._black76_pnl.
    scenario_major`); either gives the reference's bits and a C-contiguous ``(m, S)``.
    """
    monkeypatch.setattr(_black76_pnl, "scenario_major", lambda m, n_s: major)
    f, k, t, v, c, r = make_options(700, seed=21)
    rng = np.random.default_rng(22)
    for n_s in (1, 23, 35, 70):
        mult, vol = _scenarios(rng, f.size, n_s)
        vol[::9, 0] = np.nan
        mult[4::17, -1] = 0.0
        inverse = rng.random(f.size) < 0.5
        args = (f, k, t, v, c, r, mult, vol)
        fast = black76_pnl(*args, inverse=inverse, time_shift=0.02)
        reference = black76_pnl_reference(*args, inverse=inverse, time_shift=0.02)
        assert fast.flags.c_contiguous
        assert fast.shape == (f.size, n_s)
        np.testing.assert_array_equal(fast, reference)


@pytest.mark.parametrize("n_s", [1, 3, 23, 40])
def test_into_a_callers_buffer_computes_the_rows_asked(
    make_options: Callable[..., Any], n_s: int
) -> None:
    """``black76_pnl_into``: either layout of ``out`` (scenario-major: its transpose), only
    the ``rows`` asked (others' NaN inputs ignored, their cells left to the caller), the same
    bits as ``black76_pnl``; it counts the lanes the NumPy kernel computed."""
    from pmargin.pricing import black76_pnl_into

    f, k, t, v, c, r = make_options(700, seed=21)
    rng = np.random.default_rng(22)
    mult, vol = _scenarios(rng, f.size, n_s)
    inverse = rng.random(f.size) < 0.5
    rows = rng.random(f.size) < 0.9
    k = np.where(rows, k, np.nan)  # rows not asked: not options here
    expected = black76_pnl_reference(
        f[rows], k[rows], t[rows], v[rows], c[rows], r[rows], mult[rows], vol[rows],
        inverse=inverse[rows], time_shift=0.02,
    )  # fmt: skip
    for out in (np.full((f.size, n_s), 7.0), np.full((n_s, f.size), 7.0).T):
        major_mult, major_vol = np.ascontiguousarray(mult.T).T, np.ascontiguousarray(vol.T).T
        for m_in, v_in in ((mult, vol), (major_mult, major_vol)):
            n_numpy = black76_pnl_into(
                f, k, t, v, c, r, m_in, v_in, out, inverse=inverse, time_shift=0.02, rows=rows
            )
            np.testing.assert_array_equal(out[rows], expected)
            assert 0 <= n_numpy <= int(rows.sum()) * n_s
