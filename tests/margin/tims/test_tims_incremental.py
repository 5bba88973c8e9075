"""TIMS's incremental what-if path equals the account rebuilt and re-margined.

The crypto example book has no product group (each coin is its own class group); here the
book holds SPX and NDX (one product group, offset 0.90), RUT (its own product group, 0.75),
AAPL (no product group) and leaves the RTY future out, so orders change class groups that
offset each other, open a class group the account lacks and trade an instrument the book
does not hold. Random what-ifs and commits (seeded): every answer equals
``margin_after_reference`` to 1e-9 relative (the incremental sums carry rounding of ~1e-16
per step; a wrong rule is many orders larger).
"""

from __future__ import annotations

import numpy as np
import pytest
from _tims_cases import SPECS, market, portfolio

from pmargin.book import arrange
from pmargin.health import AccountWhatIf, MarginSnapshot, Trade
from pmargin.margin import get_model
from pmargin.margin.tims import TimsModel

MARKET = market()
ACCOUNTS: tuple[dict[str, float], ...] = (
    {"AAPL-200-C": -3.0, "SPX-5000-P": -2.0, "NQ": 1.0},
    {"ES": 2.0, "NQ": -3.0},
    {"AAPL": 500.0, "AAPL-220-C": -5.0},
    {"SPX-5000-P": 4.0, "ES": -1.0, "AAPL-200-P": 2.0},
    {},
)
BOOK = arrange(portfolio(*ACCOUNTS), MARKET)
ALL = {
    i.symbol: i for i in arrange(portfolio({s["symbol"]: 1.0 for s in SPECS}), MARKET).instruments
}


def _close(fast: MarginSnapshot, slow: MarginSnapshot, what: str) -> None:
    for name in ("equity", "initial_margin", "maintenance_margin"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), (what, name, a, b)


def test_the_model_declares_and_builds_its_incremental_path() -> None:
    model = get_model("tims")
    assert isinstance(model, TimsModel)
    assert model.capabilities.incremental
    assert "RTY" not in {i.symbol for i in BOOK.instruments}
    assert AccountWhatIf(model, BOOK).incremental is not None


@pytest.mark.parametrize("seed", range(4))
def test_random_what_ifs_and_commits_equal_the_rebuilt_account(seed: int) -> None:
    rng = np.random.default_rng(seed)
    whatif = AccountWhatIf(get_model("tims"), BOOK)
    symbols = sorted(ALL)
    for step in range(30):
        row = int(rng.integers(len(BOOK.account_ids)))
        trades = []
        for _ in range(int(rng.integers(1, 3))):
            instrument = ALL[symbols[int(rng.integers(len(symbols)))]]
            held = whatif.account_state(row).positions
            column = whatif.column(instrument.symbol)
            if column in held and rng.random() < 0.5:  # close, halve or flip it
                quantity = -float(rng.choice([1.0, 0.5, 2.0])) * held[column]
            else:
                quantity = float(rng.normal(0.0, 300.0))
            trades.append(Trade(instrument, quantity))
        what = f"seed {seed} step {step} row {row}"
        if rng.random() < 0.4:
            committed = whatif.commit(row, trades)
            _close(committed, whatif.margin_after_reference(row), what + " commit")
        else:
            fast = whatif.margin_after(row, trades)
            _close(fast, whatif.margin_after_reference(row, trades), what)


def test_offsetting_class_groups_change_only_their_product_group() -> None:
    """A hedge in NDX lowers the SPX + NDX product group; AAPL's margin stays the same."""
    whatif = AccountWhatIf(get_model("tims"), BOOK)
    before = whatif.snapshot(0).initial_margin
    hedged = whatif.margin_after(0, [Trade(ALL["NQ"], -1.0)])
    _close(hedged, whatif.margin_after_reference(0, [Trade(ALL["NQ"], -1.0)]), "hedge")
    assert hedged.initial_margin != before
