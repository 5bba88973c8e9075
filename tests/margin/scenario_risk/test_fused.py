"""The fused scenario P&L + tail stage of ``pmargin-es`` against its whole-book twins.

Random books (seeded): the fused stage, compiled and NumPy, gives the bits of the dense
reference (P&L, tail columns and weights, measure, worst scenario, each position's tail loss);
the measure-only stage's compiled path is within ``k x 2**-52`` of the tail's largest loss
(it sums the tail in ascending order, the reference in a partition's order). The whole model's
``compute`` equals ``compute_reference`` on real history with every add-on switched on.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from pmargin.margin.scenario_risk._fused import (
    SetPnl,
    TailRule,
    fused_kernel_name,
    measure_stage,
    measure_stage_reference,
    tail_stage,
    tail_stage_reference,
)
from pmargin.margin.scenario_risk._tail import tail_count

JIT = [False] + ([None] if fused_kernel_name() == "numba" else [])
"""The NumPy blocks always; the compiled kernels where numba is installed."""

CASES = [
    (0.99, "es", "whole"),
    (0.975, "es", "split"),
    (0.9, "var", "whole"),
    (0.5, "es", "whole"),
]


def _inputs(seed: int, n_acc: int, n_inst: int, n_s: int, n_moving: int) -> SetPnl:
    """A random book: ~8 positions per account (some empty), P&L with many exact ties."""
    rng = np.random.default_rng(seed)
    nnz = n_acc * 8
    rows = rng.integers(0, n_acc, nnz)
    cols = rng.integers(0, n_inst, nnz)
    q = np.round(rng.normal(size=nnz), 2) + 0.01
    quantity = sparse.csr_array((q, (rows, cols)), shape=(n_acc, n_inst))
    quantity.sum_duplicates()
    unit_pnl = np.round(rng.normal(size=(n_inst, n_s)) * 100.0)  # integers: ties in P&L
    exposure = np.round(rng.normal(size=(n_acc, n_moving)) * 1_000.0, 1)
    move = rng.normal(size=(n_moving, n_s)) * 0.05
    return SetPnl(quantity, exposure, unit_pnl, move)


@pytest.mark.parametrize("jit", JIT)
@pytest.mark.parametrize(("level", "measure", "boundary"), CASES)
@pytest.mark.parametrize("n_moving", [0, 1, 2])
def test_tail_stage_gives_the_reference_bits(
    jit: bool | None, level: float, measure: str, boundary: str, n_moving: int
) -> None:
    # 3,000 accounts x 300 scenarios: several blocks in both paths (tiny block sizes below)
    parts = _inputs(7 + n_moving, 3_000, 200, 300, n_moving)
    rule = TailRule(np.full(300, 1.0 / 300), level, measure, boundary)
    ref = tail_stage_reference(parts, rule)
    fast = tail_stage(parts, rule, jit=jit)
    assert fast.pnl is not None
    assert ref.pnl is not None
    np.testing.assert_array_equal(fast.pnl, ref.pnl)
    np.testing.assert_array_equal(fast.tail.index, ref.tail.index)
    np.testing.assert_array_equal(fast.tail.weight, ref.tail.weight)
    np.testing.assert_array_equal(fast.tail.measure, ref.tail.measure)
    np.testing.assert_array_equal(fast.worst, ref.worst)
    np.testing.assert_array_equal(fast.entry_loss, ref.entry_loss)
    dropped = tail_stage(parts, rule, keep_pnl=False)
    assert dropped.pnl is None
    np.testing.assert_array_equal(dropped.tail.measure, ref.tail.measure)


@pytest.mark.parametrize("jit", JIT)
def test_small_blocks_and_edge_shapes(jit: bool | None, monkeypatch: pytest.MonkeyPatch) -> None:
    from pmargin.margin.scenario_risk import _fused

    monkeypatch.setattr(_fused, "_JIT_BLOCK_CELLS", 7 * 40)  # 7 accounts per block
    monkeypatch.setattr(_fused, "_NUMPY_BLOCK_CELLS", 5 * 40)
    parts = _inputs(3, 50, 12, 40, 1)
    for level in (0.99, 0.0001):  # one tail scenario; every scenario (k == n)
        rule = TailRule(np.ones(40), level, "es")
        ref, fast = tail_stage_reference(parts, rule), tail_stage(parts, rule, jit=jit)
        np.testing.assert_array_equal(fast.tail.index, ref.tail.index)
        np.testing.assert_array_equal(fast.tail.measure, ref.tail.measure)
        np.testing.assert_array_equal(fast.entry_loss, ref.entry_loss)
    empty = sparse.csr_array((0, 12))
    none = SetPnl(empty, np.zeros((0, 0)), parts.unit_pnl, parts.balance_move[:0])
    out = tail_stage(none, TailRule(np.ones(40), 0.99, "es"))
    assert out.tail.measure.shape == (0,)
    assert out.entry_loss.shape == (0,)


def test_unequal_weights_take_the_reference_path() -> None:
    parts = _inputs(5, 400, 50, 120, 1)
    args = (parts, TailRule(np.random.default_rng(2).uniform(0.5, 1.5, 120), 0.95, "es", "split"))
    ref, fast = tail_stage_reference(*args), tail_stage(*args)
    np.testing.assert_array_equal(fast.tail.measure, ref.tail.measure)
    np.testing.assert_array_equal(fast.entry_loss, ref.entry_loss)
    np.testing.assert_array_equal(measure_stage(*args), measure_stage_reference(*args))


@pytest.mark.parametrize(("level", "measure", "boundary"), CASES)
def test_measure_stage_within_the_stated_tolerance(
    level: float, measure: str, boundary: str
) -> None:
    rng = np.random.default_rng(11)
    parts = _inputs(13, 2_000, 150, 250, 1)
    noisy = parts.unit_pnl + rng.normal(size=parts.unit_pnl.shape)  # no ties
    args = (
        SetPnl(parts.quantity, parts.exposure, noisy, parts.balance_move),
        TailRule(np.ones(250), level, measure, boundary),
    )
    ref = measure_stage_reference(*args)
    np.testing.assert_array_equal(measure_stage(*args, jit=False), ref)
    fast = measure_stage(*args)
    pnl = tail_stage_reference(*args).pnl
    assert pnl is not None
    k = tail_count(250, level)
    largest = np.abs(np.sort(pnl, axis=1)[:, :k]).max(axis=1)
    assert np.all(np.abs(fast - ref) <= k * 2.0**-52 * largest)


@pytest.mark.skipif(fused_kernel_name() != "numba", reason="numba not installed")
def test_k_worst_rows_is_a_stable_sort_prefix() -> None:
    from pmargin.margin.scenario_risk import _fused_jit

    rng = np.random.default_rng(4)
    pnl = rng.integers(-5, 5, size=(300, 37)).astype(np.float64)  # many ties
    for k in (1, 3, 36, 37):
        index = np.empty((300, k), dtype=np.int64)
        values = np.empty((300, k))
        _fused_jit.k_worst_rows(pnl, k, index, values)
        expected = np.argsort(pnl, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(index, expected)
        np.testing.assert_array_equal(values, np.take_along_axis(pnl, expected, axis=1))


def test_model_compute_equals_compute_reference() -> None:
    import _books
    from test_scenario_risk_model import _model

    from pmargin.book import arrange
    from pmargin.margin.scenario_risk import ApcMethod

    book = arrange(_books.random_portfolio(np.random.default_rng(3), 60), _books.market())
    model = _model("pmargin-es", apc_method=ApcMethod.FLOOR)  # base, stressed and floor sets
    fast, ref = model.compute(book), model.compute_reference(book)
    np.testing.assert_array_equal(fast.im_contribution.toarray(), ref.im_contribution.toarray())
    np.testing.assert_array_equal(fast.im_other, ref.im_other)
    for a, b in zip(fast.risk_units, ref.risk_units, strict=True):
        np.testing.assert_array_equal(a.pnl, b.pnl)
        np.testing.assert_array_equal(a.worst, b.worst)
        # the stressed and floor sets' measures: within k x 2**-52 of the tail (module doc)
        for name, value in a.components.items():
            np.testing.assert_allclose(value, b.components[name], rtol=1e-12, atol=1e-9)
