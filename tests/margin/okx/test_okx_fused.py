"""``OkxModel.compute`` (compiled passes, else one fused product per unit) against its twin.

With numba the fast path runs two compiled passes per unit over the book's entries
(``okx/_jit.py``); without it (``PMARGIN_JIT=0``) it takes each unit's columns out once and sums
the scenario, basis, rate and expiry-bucket P&L as the columns of one matrix. Either way every
array of the result must carry the bits of ``compute_reference`` (IM, MM, components, scenario
P&L, worst cells, held flags, contributions and their pattern, ``im_other``), the borrowing
charge on or off.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import sparse

from pmargin._compiled import compiled_module
from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.margin import MarginResult, get_model
from pmargin.margin.okx import OkxModel
from pmargin.margin.okx import _model as okx_model
from pmargin.market import load_market

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def book() -> BookArrangement:
    market = load_market(example_path("example_market.json"))
    return arrange(example_portfolio(market, 400, seed=13), market)


def _okx(params: Path | None) -> OkxModel:
    model = get_model("okx", params=params)
    assert isinstance(model, OkxModel)
    return model


def _assert_same(fast: MarginResult, reference: MarginResult) -> None:
    for name in ("initial_margin", "maintenance_margin", "im_other"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(reference, name), name)
    a, b = fast.im_contribution, reference.im_contribution
    for part in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part), part)
    assert len(fast.risk_units) == len(reference.risk_units)
    for u, v in zip(fast.risk_units, reference.risk_units, strict=True):
        assert (u.underlying, u.scenario_labels) == (v.underlying, v.scenario_labels)
        np.testing.assert_array_equal(u.pnl, v.pnl)
        np.testing.assert_array_equal(u.worst, v.worst)
        np.testing.assert_array_equal(u.holds, v.holds)
        assert u.components.keys() == v.components.keys()
        for key in u.components:
            np.testing.assert_array_equal(u.components[key], v.components[key], key)


@pytest.mark.parametrize("params", [None, HERE / "okx-borrowing.toml"])
def test_the_fused_product_gives_the_reference_bits(
    book: BookArrangement, params: Path | None
) -> None:
    model = _okx(params)
    _assert_same(model.compute(book), model.compute_reference(book))


def _needs_the_passes() -> None:
    """Skip the test without numba or with ``PMARGIN_JIT=0``."""
    pytest.importorskip("numba")
    if compiled_module("pmargin.margin.okx._jit") is None:
        pytest.skip("PMARGIN_JIT=0")


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, per call of the compiled passes' driver, whether it gave a result."""
    calls: list[bool] = []
    run = OkxModel._compute_compiled

    def spy(self: OkxModel, book: BookArrangement, kernel: Any) -> Any:
        out = run(self, book, kernel)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(OkxModel, "_compute_compiled", spy)
    return calls


@pytest.mark.parametrize("params", [None, HERE / "okx-borrowing.toml"])
def test_the_compiled_passes_give_the_reference_bits(
    book: BookArrangement, params: Path | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_the_passes()
    calls = _spy(monkeypatch)
    model = _okx(params)
    _assert_same(model.compute(book), model.compute_reference(book))
    assert calls == [True]


def test_without_numba_the_fused_numpy_path_gives_the_reference_bits(
    book: BookArrangement, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _spy(monkeypatch)
    monkeypatch.setattr(okx_model, "compiled_module", lambda name: None)
    model = _okx(None)
    _assert_same(model.compute(book), model.compute_reference(book))
    assert calls == []


def test_a_non_canonical_book_takes_the_numpy_path(
    book: BookArrangement, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_the_passes()
    q = sparse.csr_array(book.quantity)
    # each row's entries reversed: same positions, columns no longer sorted
    order = np.concatenate(
        [np.arange(q.indptr[i + 1] - 1, q.indptr[i] - 1, -1) for i in range(q.shape[0])]
    )
    shuffled = sparse.csr_array((q.data[order], q.indices[order], q.indptr), shape=q.shape)
    shuffled.has_canonical_format = False
    unsorted = replace(book, quantity=shuffled)
    calls = _spy(monkeypatch)
    model = _okx(None)
    _assert_same(model.compute(unsorted), model.compute_reference(unsorted))
    assert calls == [False]


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 100, 127, 128])
def test_the_expiry_sums_add_as_numpy_does(n: int) -> None:
    """``pairwise_sum`` (okx's MR3 and deribit's roll shock) adds as NumPy's ``sum``."""
    pytest.importorskip("numba")
    from pmargin.margin._sum_jit import pairwise_sum as _pairwise_sum

    rng = np.random.default_rng(n)
    for _ in range(50):
        values = rng.normal(size=n + 3) * 10.0 ** rng.integers(-8, 8, size=n + 3)
        assert _pairwise_sum(values, 2, 2 + n, False) == values[2 : 2 + n].sum()
        assert _pairwise_sum(values, 2, 2 + n, True) == np.abs(values[2 : 2 + n]).sum()


def test_a_nan_sends_the_book_to_the_numpy_path(
    book: BookArrangement, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_the_passes()
    matrices = OkxModel.matrices

    def poisoned(self: OkxModel, resolved: Any, market: Any, static: Any = None) -> Any:
        m = matrices(self, resolved, market, static)
        scenario = m.scenario.copy()
        scenario[0, 0] = np.nan
        return replace(m, scenario=scenario)

    monkeypatch.setattr(OkxModel, "matrices", poisoned)
    calls = _spy(monkeypatch)
    model = _okx(None)
    _assert_same(model.compute(book), model.compute_reference(book))
    assert calls == [False]


def test_the_scenario_pnl_is_computed_when_first_read(book: BookArrangement) -> None:
    _needs_the_passes()
    model = _okx(None)
    result = model.compute(book)
    assert all(u.scenario_pnl is None for u in result.risk_units)
    reference = model.compute_reference(book)
    for u, v in zip(result.risk_units, reference.risk_units, strict=True):
        np.testing.assert_array_equal(u.pnl, v.pnl)
        assert u.scenario_pnl is not None
        assert u.pnl_source is None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the NumPy path's inf * 0
def test_a_vol_span_not_finite_sends_the_book_to_the_numpy_path(
    book: BookArrangement, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The passes add only an entry's own expiry bucket: the one-hot matrix's ``inf * 0``
    cells (NaN in the NumPy path) are not there, so they decline instead."""
    _needs_the_passes()
    matrices = OkxModel.matrices

    def poisoned(self: OkxModel, resolved: Any, market: Any, static: Any = None) -> Any:
        m = matrices(self, resolved, market, static)
        span = m.vol_span.copy()
        span[int(np.flatnonzero(resolved.is_option)[0])] = np.inf
        return replace(m, vol_span=span)

    monkeypatch.setattr(OkxModel, "matrices", poisoned)
    calls = _spy(monkeypatch)
    model = _okx(None)
    _assert_same(model.compute(book), model.compute_reference(book))
    assert calls == [False]
