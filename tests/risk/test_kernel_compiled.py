"""``instrument_pnl``'s compiled pass equals its NumPy path bit for bit, in every layout.

The NumPy path (option rows taken out, one ``black76_pnl`` call, delta-one rows by NumPy) is
the compiled pass's reference twin (``black76_pnl_into`` on the option rows in place): both
run the same compiled Black-76 lanes, so equality is exact (``assert_array_equal``),
off-domain lanes (expiry, zero vol, a time shift past expiry) included. The caller's layouts
(scenario-major transposes, an ``out`` buffer) change nothing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _books import market, random_portfolio

from pmargin.book import arrange
from pmargin.errors import InputError
from pmargin.pricing import kernel_name
from pmargin.risk import instrument_pnl
from pmargin.risk._kernel import _instrument_pnl_numpy
from pmargin.valuation import ResolvedInstruments

if kernel_name() != "numba":  # PMARGIN_JIT=0: the NumPy path runs
    pytest.skip("the compiled pass is off (no numba or PMARGIN_JIT=0)", allow_module_level=True)


def _numpy(resolved: ResolvedInstruments, mult: Any, vol: Any, shift: float) -> Any:
    n = len(resolved)
    m = np.broadcast_to(np.asarray(mult, dtype=np.float64), (n, np.shape(mult)[-1]))
    v = np.broadcast_to(np.asarray(vol, dtype=np.float64), m.shape)
    return _instrument_pnl_numpy(resolved, m, v, shift)


def _inputs(seed: int) -> tuple[ResolvedInstruments, np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    book = arrange(random_portfolio(rng, n_accounts=int(rng.integers(2, 9))), market())
    resolved = book.resolved
    n_i, n_s = len(resolved), int(rng.choice([1, 2, 3, 23, 40]))
    mult = rng.uniform(0.5, 1.5, size=(n_i, n_s))
    vol = rng.uniform(0.05, 1.5, size=(n_i, n_s))
    vol[~resolved.is_option] = np.nan
    if n_s > 1:  # lanes off the compiled kernel's smooth domain: zero vol
        vol[resolved.is_option, 0] = 0.0
    time_shift = float(rng.choice([0.0, 1 / 365, 0.1, 5.0]))  # 5 years: past every expiry
    return resolved, mult, vol, time_shift


@pytest.mark.parametrize("seed", range(10))
def test_compiled_pass_equals_numpy_path(seed: int) -> None:
    resolved, mult, vol, shift = _inputs(seed)
    expected = _numpy(resolved, mult, vol, shift)
    pnl = instrument_pnl(resolved, mult, vol, time_shift=shift)
    assert pnl.flags.c_contiguous
    np.testing.assert_array_equal(pnl, expected)
    # scenario-major inputs and output, as a kept plan holds them: no copies, same bits
    major_mult, major_vol = np.ascontiguousarray(mult.T), np.ascontiguousarray(vol.T)
    out = np.full(major_mult.shape, np.nan)
    got = instrument_pnl(resolved, major_mult.T, major_vol.T, time_shift=shift, out=out.T)
    assert np.shares_memory(got, out)
    np.testing.assert_array_equal(out.T, expected)
    # a row-major out buffer, and broadcast inputs
    out = np.full(mult.shape, np.nan)
    instrument_pnl(resolved, mult, vol, time_shift=shift, out=out)
    np.testing.assert_array_equal(out, expected)
    row = mult[0]
    np.testing.assert_array_equal(
        instrument_pnl(resolved, row, 0.4, time_shift=shift), _numpy(resolved, row, [0.4], shift)
    )


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
@pytest.mark.parametrize("field", ["spot_multiplier", "vol"])
def test_compiled_pass_raises_the_numpy_paths_error(field: str, bad: float) -> None:
    """An input out of the domain, on an option or a delta-one row: the same first lane named.

    No other lane is off the compiled kernel's smooth domain (vols > 0, no time shift): the
    bad lane alone must send the pass to the checks.
    """
    resolved, mult, vol, _ = _inputs(3)
    vol[resolved.is_option] = 0.5
    shift = 0.0
    for row in (int(np.flatnonzero(resolved.is_option)[-1]), int(np.argmin(resolved.is_option))):
        m, v = mult.copy(), vol.copy()
        if field == "vol":
            if not resolved.is_option[row] or bad == 0.0:
                continue  # delta-one rows ignore vols; a zero vol is valid
            v[row, -1] = bad
        else:
            m[row, -1] = bad
        with pytest.raises(InputError) as expected:
            _numpy(resolved, m, v, shift)
        with pytest.raises(InputError) as info:
            instrument_pnl(resolved, m, v, time_shift=shift)
        assert str(info.value) == str(expected.value)


def test_out_must_have_the_result_shape() -> None:
    resolved, mult, vol, _ = _inputs(1)
    with pytest.raises(InputError, match=r"^out\.shape"):
        instrument_pnl(resolved, mult, vol, out=np.empty((mult.shape[0] + 1, mult.shape[1])))
