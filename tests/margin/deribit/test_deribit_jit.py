"""The compiled account pass of ``DeribitModel.compute`` (S:PM) against its twins.

With numba (the ``fast`` extra) and ``PMARGIN_JIT`` not ``0``, S:PM books are margined by one
compiled pass over each account's entries (:mod:`pmargin.margin.deribit._jit`); it must give
the same bits as :meth:`~pmargin.margin.deribit.DeribitModel.compute_reference` on every array
of the result, under every reading of the unpublished parts, and so must the NumPy block path
that replaces it without numba (``jit_kernel`` answering ``None``, as ``PMARGIN_JIT=0`` makes
it).
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from _deribit_cases import model_from, shipped
from test_deribit_blocks import _assert_same

from pmargin.book import BookArrangement, arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.margin.deribit import DeribitModel
from pmargin.margin.deribit import _account_pass as account_pass_module
from pmargin.margin.deribit import _model as deribit_model
from pmargin.market import MarketSnapshot, load_market

READINGS = [
    {},
    {"extended_dampener_mode": "subtract"},
    {"extended_dampener_mode": "threshold", "roll_shock_basis": "abs_size"},
    {"extended_weighting": "full", "delta_shock": "excess"},
]


@pytest.fixture(scope="module")
def market() -> MarketSnapshot:
    return load_market(example_path("example_market.json"))


@pytest.fixture(scope="module")
def book(market: MarketSnapshot) -> BookArrangement:
    return arrange(example_portfolio(market, 400, seed=11), market)


def _model(**assumptions: str) -> DeribitModel:
    data = shipped()
    data["assumptions"].update(assumptions)
    return model_from(data).with_mode("segregated")


def _needs_the_pass() -> Any:
    """The compiled pass's module; the test is skipped without numba or with ``PMARGIN_JIT=0``."""
    pytest.importorskip("numba")
    kernel = account_pass_module.jit_kernel()
    if kernel is None:
        pytest.skip("PMARGIN_JIT=0")
    return kernel


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, per call of the compiled pass, whether it gave a result."""
    calls: list[bool] = []
    run = account_pass_module.account_pass

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = run(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(deribit_model, "account_pass", spy)
    return calls


@pytest.mark.parametrize("assumptions", READINGS)
def test_the_compiled_pass_gives_the_reference_bits(
    book: BookArrangement, assumptions: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_the_pass()
    calls = _spy(monkeypatch)
    model = _model(**assumptions)
    _assert_same(model.compute(book), model.compute_reference(book))
    assert calls == [True, True]  # the pass, then its rerun for the vectors when first read


def test_the_vectors_are_computed_when_first_read(
    book: BookArrangement, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_the_pass()
    calls = _spy(monkeypatch)
    model = _model()
    result = model.compute(book)
    assert calls == [True]
    assert all(u.scenario_pnl is None for u in result.risk_units)
    # pickling (a cluster worker's results; Dask's cloudpickle, as components are mapping
    # proxies) computes them: a source does not travel
    cloudpickle = pytest.importorskip("cloudpickle")
    restored = pickle.loads(cloudpickle.dumps(result))
    assert calls == [True, True]  # one rerun serves every unit
    assert all(u.scenario_pnl is not None for u in result.risk_units)
    assert all(u.pnl_source is None for u in restored.risk_units)
    _assert_same(restored, model.compute_reference(book))


@pytest.mark.parametrize("assumptions", READINGS)
def test_without_numba_the_numpy_path_gives_the_reference_bits(
    book: BookArrangement, assumptions: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _spy(monkeypatch)
    monkeypatch.setattr(deribit_model, "jit_kernel", lambda: None)
    model = _model(**assumptions)
    _assert_same(model.compute(book), model.compute_reference(book))
    assert calls == []


def test_the_pass_declines_a_book_of_moved_rows(
    book: BookArrangement, monkeypatch: pytest.MonkeyPatch
) -> None:
    _needs_the_pass()
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(5)
    rows = rng.integers(0, book.shape[0], 30)
    moved = book.moved_rows(rows, ("BTC", "ETH"), rng.uniform(-0.5, 1.0, (30, 2)))
    model = _model()
    fast, reference = model.compute(moved), model.compute_reference(moved)
    assert calls == [False]  # per-row USD rates: the NumPy blocks margin it
    np.testing.assert_allclose(fast.initial_margin, reference.initial_margin, rtol=1e-12)


def test_a_nan_in_a_vector_sends_the_book_to_the_numpy_path(
    book: BookArrangement, monkeypatch: pytest.MonkeyPatch
) -> None:
    kernel = _needs_the_pass()
    model = _model()
    units = model._units(book, take=False)
    poisoned = [units[0].__class__(**{**_fields(units[0]), "pnl": units[0].pnl * np.nan})]
    out = account_pass_module.account_pass(
        poisoned + units[1:],
        book.quantity,
        threshold=False,
        abs_size=False,
        kernel=kernel,
    )
    assert out is None


def _fields(unit: Any) -> dict[str, Any]:
    return {name: getattr(unit, name) for name in unit.__slots__}


@pytest.mark.parametrize("most", [0, 128])
@pytest.mark.parametrize("assumptions", READINGS[:2])
def test_roll_nets_as_columns_or_one_by_one_give_the_reference_bits(
    book: BookArrangement,
    assumptions: dict[str, str],
    most: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The row sums net the expiries (roll-rate columns) or the pass nets them per entry."""
    kernel = _needs_the_pass()
    monkeypatch.setattr(account_pass_module, "_ROLL_COLUMNS", most)
    model = _model(**assumptions)
    layout = account_pass_module.pass_layout(
        model._units(book, take=False), book.shape[1], kernel=kernel
    )
    assert layout is not None
    assert (layout.roll_index.size > 0) == (most > 0)
    _assert_same(model.compute(book), model.compute_reference(book))


def test_a_quantity_not_finite_declines_the_roll_columns(book: BookArrangement) -> None:
    """``inf * 0`` would be NaN in another expiry's net: the pass declines (NumPy path)."""
    kernel = _needs_the_pass()
    units = _model()._units(book, take=False)
    layout = account_pass_module.pass_layout(units, book.shape[1], kernel=kernel)
    assert layout is not None
    assert layout.roll_index.size > 0
    quantity = book.quantity.copy()
    held = np.flatnonzero(layout.column_unit[quantity.indices] >= 0)
    quantity.data[held[0]] = np.inf
    out = account_pass_module.account_pass(
        units, quantity, threshold=False, abs_size=False, kernel=kernel
    )
    assert out is None
