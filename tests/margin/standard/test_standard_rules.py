"""The standard rules as array functions: formulas, broadcasting, units."""

from __future__ import annotations

import numpy as np

from pmargin.margin.standard import future_margin, otm_fraction, short_option_margin


def test_otm_fraction_calls_and_puts() -> None:
    strike = np.array([110.0, 90.0, 90.0, 110.0, 100.0])
    is_call = np.array([True, True, False, False, True])
    got = otm_fraction(strike, np.full(5, 100.0), is_call)
    np.testing.assert_allclose(got, [0.10, 0.0, 0.10, 0.0, 0.0], rtol=1e-15, atol=1e-15)


def test_future_margin_grows_with_size_and_ignores_sign() -> None:
    q = np.array([25.0, -25.0, 0.0, 350.0])
    got = future_margin(q, np.full(4, 0.02), np.full(4, 0.00005), np.ones(4))
    np.testing.assert_allclose(got, [0.53125, 0.53125, 0.0, 13.125], rtol=1e-14)
    linear = future_margin(q[:1], np.array([0.02]), np.array([0.00005]), np.array([100_000.0]))
    np.testing.assert_allclose(linear, [53_125.0], rtol=1e-14)  # Deribit's BTC_USDC example


def test_short_option_margin_formulas() -> None:
    otm = np.array([0.10, 0.0, 0.02, 0.0])
    is_call = np.array([True, True, False, False])
    mark = np.array([0.02, 0.3, 0.05, 2.05])
    im, mm = short_option_margin(
        otm, is_call, mark, np.ones(4), *(np.full(4, x) for x in (0.15, 0.10, 0.075, 0.075))
    )
    mm_put_deep = max(0.075, 0.075 * 2.05) + 2.05  # the mark term binds: 0.15375 > 0.075
    np.testing.assert_allclose(
        mm, [0.075 + 0.02, 0.075 + 0.3, max(0.075, 0.075 * 0.05) + 0.05, mm_put_deep]
    )
    np.testing.assert_allclose(
        im,
        [
            max(0.15 - 0.10, 0.10) + 0.02,
            0.15 + 0.3,
            max(0.15 - 0.02, 0.10) + 0.05,
            max(0.15 + 2.05, mm_put_deep),  # IM is at least MM
        ],
    )
    assert im[3] == mm[3]
