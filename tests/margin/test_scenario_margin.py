"""The shared reduce and attribution stages of the margin models (``margin/_scenario_margin.py``).

Every expected value is recomputed here from the dense quantity matrix with plain loops, so
the sparse entry arithmetic is checked against the definition, not against itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.margin._scenario_margin import (
    UnitPositions,
    binding_contribution,
    binding_scenario,
    proportional_scale,
    unit_pnl,
    worst_loss,
)

COLUMNS = np.array([0, 2, 3, 5], dtype=np.int64)


def _quantity(seed: int, n_accounts: int = 25) -> sparse.csr_array:
    """Random signed quantities, about half the cells held, the last account empty."""
    rng = np.random.default_rng(seed)
    dense = rng.normal(scale=4.0, size=(n_accounts, 7)) * (rng.random((n_accounts, 7)) < 0.5)
    dense[-1] = 0.0
    return sparse.csr_array(dense)


def _dense_block(quantity: sparse.csr_array) -> FloatArray:
    block: FloatArray = quantity.toarray()[:, COLUMNS]
    return block


def test_entries_rebuild_the_block_and_the_held_flags() -> None:
    quantity = _quantity(1)
    positions = UnitPositions.of(quantity, COLUMNS)
    rebuilt = np.zeros((quantity.shape[0], COLUMNS.size))
    rebuilt[positions.account, positions.local] = positions.quantity
    dense = _dense_block(quantity)
    np.testing.assert_array_equal(rebuilt, dense)
    np.testing.assert_array_equal(positions.held, (dense != 0.0).any(axis=1))
    assert not positions.held[-1]
    values = np.arange(positions.quantity.size, dtype=np.float64)
    block = positions.contribution(values).toarray()
    np.testing.assert_array_equal(block[positions.account, positions.local], values)
    assert block.sum() == values.sum()


@pytest.mark.parametrize("weighted", [False, True])
def test_binding_loss_is_each_position_loss_at_its_account_scenario(weighted: bool) -> None:
    rng = np.random.default_rng(2)
    quantity = _quantity(2)
    instrument_pnl = rng.normal(size=(COLUMNS.size, 9))
    loss, scenario = worst_loss(unit_pnl(quantity, COLUMNS, instrument_pnl))
    scenario[3] = -1  # an account with no binding scenario attributes nothing
    weight = rng.uniform(0.2, 1.0, size=quantity.shape[0]) if weighted else None
    positions = UnitPositions.of(quantity, COLUMNS)
    values = positions.binding_loss(instrument_pnl, scenario, weight)
    dense = _dense_block(quantity)
    expected = np.zeros_like(dense)
    for a in range(dense.shape[0]):
        if scenario[a] < 0:
            continue
        for j in range(COLUMNS.size):
            w = 1.0 if weight is None else weight[a]
            expected[a, j] = -dense[a, j] * instrument_pnl[j, scenario[a]] * w
    got = positions.contribution(values).toarray()
    np.testing.assert_array_equal(got, expected)  # the same products, in the same order
    # an account's entries add up to (weight x) its worst loss: sums of 4 terms, ~1e-15 apart
    w = np.ones(dense.shape[0]) if weight is None else weight
    sums = got.sum(axis=1)
    bound = 1e-14 * (np.abs(got).sum(axis=1) + 1.0)
    mask = scenario >= 0
    assert np.all(np.abs(sums[mask] - w[mask] * loss[mask]) <= bound[mask])
    assert np.all(sums[~mask] == 0.0)
    # the one-call form gives the same block, bit for bit
    block = binding_contribution(quantity, COLUMNS, instrument_pnl, scenario, weight)
    np.testing.assert_array_equal(block.toarray(), got)


def test_gross_charge_and_its_scaled_shares() -> None:
    rng = np.random.default_rng(3)
    quantity = _quantity(3)
    rate = rng.uniform(0.0, 2.0, size=COLUMNS.size)
    positions = UnitPositions.of(quantity, COLUMNS)
    dense = _dense_block(quantity)
    gross = positions.gross(rate)
    np.testing.assert_allclose(gross, np.abs(dense) @ rate, rtol=1e-14, atol=0.0)
    target = gross * rng.uniform(1.0, 3.0, size=gross.size)  # a charge scaled up (MR7's tiers)
    scale = proportional_scale(target, gross)
    shares = positions.contribution(positions.gross_share(rate, scale)).toarray()
    np.testing.assert_allclose(shares.sum(axis=1), target, rtol=1e-14, atol=0.0)
    unscaled = positions.contribution(positions.gross_share(rate)).toarray()
    np.testing.assert_array_equal(unscaled, np.abs(dense) * rate)


def test_proportional_scale_is_zero_where_nothing_is_raw() -> None:
    with np.errstate(all="raise"):
        scale = proportional_scale(np.array([3.0, 5.0, 0.0]), np.array([2.0, 0.0, 0.0]))
    np.testing.assert_array_equal(scale, [1.5, 0.0, 0.0])


def test_binding_branch_takes_each_account_binding_term() -> None:
    quantity = _quantity(4)
    positions = UnitPositions.of(quantity, COLUMNS)
    n = positions.quantity.size
    first, second = np.full(n, 1.0), np.full(n, 2.0)
    binds = np.arange(quantity.shape[0]) % 2 == 0
    chosen = positions.binding_branch(binds, first, second)
    np.testing.assert_array_equal(chosen, np.where(binds[positions.account], 1.0, 2.0))


def test_binding_scenario_breaks_ties_in_the_given_order() -> None:
    pnl = np.array([[3.0, -1.0, -1.0, 0.5], [-2.0, 4.0, -2.0, -2.0], [1.0, 1.0, 1.0, 1.0]])
    smallest, column = binding_scenario(pnl)
    np.testing.assert_array_equal(smallest, [-1.0, -2.0, 1.0])
    np.testing.assert_array_equal(column, [1, 0, 0])
    order = np.array([3, 2, 0, 1], dtype=np.int64)  # a model's tie-break order
    smallest, column = binding_scenario(pnl, order)
    np.testing.assert_array_equal(smallest, [-1.0, -2.0, 1.0])
    np.testing.assert_array_equal(column, [2, 3, 3])
    for a in range(pnl.shape[0]):  # the first column of ``order`` holding the minimum
        assert column[a] == next(j for j in order if pnl[a, j] == pnl[a].min())
    assert column.dtype == np.int64
    with pytest.raises(InputError, match="at least one scenario"):
        binding_scenario(np.zeros((2, 0)))
    loss, scenario = worst_loss(pnl)
    np.testing.assert_array_equal(loss, [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(scenario, [1, 0, -1])  # nothing loses: -1
    loss, scenario = worst_loss(pnl, order)
    np.testing.assert_array_equal(loss, [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(scenario, [2, 3, -1])


@pytest.mark.parametrize("k", [1, 3])
def test_tail_loss_is_each_position_loss_averaged_over_its_account_tail(k: int) -> None:
    rng = np.random.default_rng(6)
    quantity = _quantity(6)
    n_accounts, n_scenarios = quantity.shape[0], 11
    instrument_pnl = rng.normal(size=(COLUMNS.size, n_scenarios))
    index = np.stack([rng.permutation(n_scenarios)[:k] for _ in range(n_accounts)])
    weight = rng.random((n_accounts, k))
    weight /= weight.sum(axis=1, keepdims=True)
    positions = UnitPositions.of(quantity, COLUMNS)
    got = positions.contribution(positions.tail_loss(instrument_pnl, index, weight)).toarray()
    dense = _dense_block(quantity)
    expected = np.zeros_like(dense)
    for a in range(n_accounts):
        for j in range(COLUMNS.size):
            expected[a, j] = -dense[a, j] * sum(
                weight[a, m] * instrument_pnl[j, index[a, m]] for m in range(k)
            )
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14)
    # an account's entries add up to its tail measure: -sum_k weight x P&L at the tail
    pnl = unit_pnl(quantity, COLUMNS, instrument_pnl)
    measure = -np.sum(weight * np.take_along_axis(pnl, index, axis=1), axis=1)
    np.testing.assert_allclose(got.sum(axis=1), measure, rtol=1e-12, atol=1e-12)
    # one scenario of weight 1 is the binding loss, bit for bit
    _, scenario = worst_loss(pnl)
    binding = positions.binding_loss(instrument_pnl, scenario)
    column, binds = positions.binding_column(scenario)
    one = positions.tail_loss(
        instrument_pnl, np.maximum(scenario, 0)[:, None], np.ones((n_accounts, 1))
    )
    np.testing.assert_array_equal(binding, np.where(binds, one, 0.0))
    np.testing.assert_array_equal(column, np.maximum(scenario, 0)[positions.account])
    unweighted = positions.tail_loss(instrument_pnl, np.maximum(scenario, 0)[:, None])
    np.testing.assert_array_equal(unweighted, one)  # weight None is weight 1
    if k > 1:
        with pytest.raises(InputError, match="more than one tail scenario"):
            positions.tail_loss(instrument_pnl, index)


def test_whole_book_entries_are_the_quantity_matrix_in_csr_order() -> None:
    quantity = _quantity(7)
    positions = UnitPositions.whole(quantity)
    assert positions.block is quantity or np.array_equal(positions.block.data, quantity.data)
    rows, cols = np.nonzero(quantity.toarray())
    np.testing.assert_array_equal(positions.account, rows)
    np.testing.assert_array_equal(positions.local, cols)
    np.testing.assert_array_equal(positions.quantity, quantity.toarray()[rows, cols])
    empty = UnitPositions.whole(sparse.csr_array((3, 4)))
    assert empty.tail_loss(np.zeros((4, 2)), np.zeros((3, 1), np.int64), np.ones((3, 1))).size == 0
