"""``DeribitModel.compute`` (account stages in blocks, per-entry contributions) against its twin.

:meth:`~pmargin.margin.deribit.DeribitModel.compute_reference` margins the whole book at once
with sparse contribution blocks; the fast path must give the same bits on every array of the
result (IM, MM, components, aggregated vectors, worst cells, held flags, contributions and
their sparsity pattern, ``im_other``), whatever the block size, under S:PM and X:PM and every
reading of the unpublished parts. A book of moved rows (each row at its own prices) is
compared to 1e-12 relative (its contributions are formed with a per-row rate).
"""

from __future__ import annotations

import numpy as np
import pytest
from _deribit_cases import model_from, shipped
from scipy import sparse

from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.margin import MarginResult
from pmargin.margin.deribit import (
    DeribitModel,
    aggregate_risk_vector,
    aggregate_risk_vector_reference,
    roll_shock,
    roll_shock_contribution,
    roll_shock_entries,
    worst_case,
    worst_case_reference,
)
from pmargin.margin.deribit import _model as deribit_model
from pmargin.market import MarketSnapshot, load_market
from pmargin.scenarios import VolShockKind


@pytest.fixture(scope="module")
def market() -> MarketSnapshot:
    return load_market(example_path("example_market.json"))


@pytest.fixture(scope="module")
def book(market: MarketSnapshot) -> BookArrangement:
    return arrange(example_portfolio(market, 300, seed=7), market)


def _model(mode: str, **assumptions: str) -> DeribitModel:
    data = shipped()
    data["assumptions"].update(assumptions)
    return model_from(data).with_mode(mode)


def _assert_same(fast: MarginResult, reference: MarginResult) -> None:
    for name in ("initial_margin", "maintenance_margin", "im_other"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(reference, name), name)
    a, b = fast.im_contribution, reference.im_contribution
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)
    assert len(fast.risk_units) == len(reference.risk_units)
    for u, v in zip(fast.risk_units, reference.risk_units, strict=True):
        assert (u.underlying, u.currency, u.scenario_labels) == (
            v.underlying,
            v.currency,
            v.scenario_labels,
        )
        np.testing.assert_array_equal(u.pnl, v.pnl)
        np.testing.assert_array_equal(u.worst, v.worst)
        np.testing.assert_array_equal(u.holds, v.holds)
        assert u.components.keys() == v.components.keys()
        for key in u.components:
            np.testing.assert_array_equal(u.components[key], v.components[key], key)


@pytest.mark.parametrize("block_rows", [7, 64, 65_536])
@pytest.mark.parametrize(
    ("mode", "assumptions"),
    [
        ("segregated", {}),
        ("cross", {}),
        ("segregated", {"extended_dampener_mode": "threshold", "roll_shock_basis": "abs_size"}),
        ("cross", {"extended_weighting": "full", "delta_shock": "excess"}),
    ],
)
def test_blocks_give_the_reference_bits(
    book: BookArrangement,
    mode: str,
    assumptions: dict[str, str],
    block_rows: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _model(mode, **assumptions)
    monkeypatch.setattr(deribit_model, "_BLOCK_ROWS", block_rows)
    _assert_same(model.compute(book), model.compute_reference(book))


@pytest.mark.parametrize("mode", ["segregated", "cross"])
def test_moved_rows_agree_with_the_reference(
    book: BookArrangement, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    rows = rng.integers(0, book.shape[0], 40)
    moved = book.moved_rows(rows, ("BTC", "ETH"), rng.uniform(-0.5, 1.0, (40, 2)))
    model = _model(mode)
    monkeypatch.setattr(deribit_model, "_BLOCK_ROWS", 9)
    fast, reference = model.compute(moved), model.compute_reference(moved)
    np.testing.assert_allclose(fast.initial_margin, reference.initial_margin, rtol=1e-12)
    np.testing.assert_allclose(fast.im_other, reference.im_other, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(
        fast.im_contribution.toarray(), reference.im_contribution.toarray(), rtol=1e-12, atol=1e-9
    )


def test_an_empty_book_gives_empty_arrays(book: BookArrangement) -> None:
    empty = book.take_accounts([])
    result = _model("segregated").compute(empty)
    assert result.initial_margin.shape == (0,)
    assert result.im_contribution.shape == (0, empty.shape[1])


def _vectors(seed: int, n: int = 500, cells: int = 35) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pnl = np.round(rng.normal(0.0, 1.0, (n, cells)), 1)  # rounded: ties between cells
    pnl[::7] = 0.0
    pnl[1::11] = np.abs(pnl[1::11])
    return pnl


@pytest.mark.parametrize("seed", range(4))
def test_aggregate_and_worst_case_equal_their_references(seed: int) -> None:
    pnl = _vectors(seed)
    kinds = (VolShockKind.DOWN, VolShockKind.NONE, VolShockKind.UP) * 9 + (VolShockKind.UP,) * 8
    damp = np.linspace(0.0, 0.4, 8)
    for mode in ("distance", "subtract", "threshold"):
        for cap in (0.5, np.full((pnl.shape[0], 1), 0.3)):
            kwargs = {"pnl_offset": 0.6, "max_offsetable": cap, "dampener": damp}
            fast = aggregate_risk_vector(pnl, 27, mode=mode, **kwargs)  # type: ignore[arg-type]
            ref = aggregate_risk_vector_reference(pnl, 27, mode=mode, **kwargs)  # type: ignore[arg-type]
            np.testing.assert_array_equal(fast, ref)
            out = np.empty_like(pnl)
            assert aggregate_risk_vector(pnl, 27, mode=mode, out=out, **kwargs) is out  # type: ignore[arg-type]
            np.testing.assert_array_equal(out, ref)
            loss, cell = worst_case(fast, kinds)
            ref_loss, ref_cell = worst_case_reference(fast, kinds)
            np.testing.assert_array_equal(loss, ref_loss)
            np.testing.assert_array_equal(cell, ref_cell)


def test_roll_shock_entries_equal_the_roll_shock_and_its_contribution() -> None:
    rng = np.random.default_rng(2)
    dense = np.where(rng.random((200, 30)) < 0.2, np.round(rng.normal(0, 2, (200, 30)), 1), 0.0)

    q = sparse.csr_array(dense)
    rate, delta = rng.uniform(0.01, 0.05, 30), rng.uniform(-1.0, 1.0, 30)
    key = np.round(rng.uniform(0, 1, 30), 1)
    key[:3] = -1.0
    for basis in ("net_delta_per_expiry", "abs_size"):
        roll, shares = roll_shock_entries(q, rate, delta, key, basis)  # type: ignore[arg-type]
        np.testing.assert_array_equal(roll, roll_shock(q, rate, delta, key, basis))  # type: ignore[arg-type]
        ref = roll_shock_contribution(q, rate, delta, key, basis)  # type: ignore[arg-type]
        np.testing.assert_array_equal(
            sparse.csr_array((shares, q.indices, q.indptr), shape=q.shape).toarray(),
            ref.toarray(),
        )
