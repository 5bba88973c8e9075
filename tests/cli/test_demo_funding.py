"""The demo's book: simulate's population funded like a venue would (mode ``"venue"``)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from pmargin.cli.main import app
from pmargin.engine import supported_accounts, venue_funded_example
from pmargin.errors import InputError
from pmargin.margin import get_model
from pmargin.market import MarketSnapshot
from pmargin.simulate import (
    FUNDING_MODES,
    FundedBook,
    VenueFunding,
    fund_population,
    generate_population,
)


@pytest.fixture(scope="module")
def funded() -> tuple[MarketSnapshot, FundedBook]:
    return venue_funded_example(200, 7, "deribit")


def test_venue_funding_meets_im_except_a_stated_share_close_to_mm(
    funded: tuple[MarketSnapshot, FundedBook],
) -> None:
    _, book = funded
    near = np.asarray(book.near_mm)
    assert near.sum() == 20  # 10 % of 200
    equity, im, mm = book.equity, book.initial_margin, book.maintenance_margin
    assert np.all(equity >= mm * 1.05 * (1 - 1e-9))  # nobody starts below MM
    assert np.all(equity[~near] >= im[~near] * 1.1 * (1 - 1e-9))
    ratio = equity[near] / mm[near]
    # Close to MM: 1.05-1.2x, unless the positions alone are worth more (no balance then).
    balance = np.asarray(book.book.balances).sum(axis=1)
    pinned = balance[near] > 0
    assert np.all((ratio[pinned] >= 1.05 * (1 - 1e-6)) & (ratio[pinned] <= 1.2 * (1 + 1e-6)))


def test_venue_draws_are_the_same_for_every_model() -> None:
    venue = VenueFunding(seed=3)
    near_a, factor_a = venue.draws(50)
    near_b, factor_b = venue.draws(50)
    np.testing.assert_array_equal(near_a, near_b)
    np.testing.assert_array_equal(factor_a, factor_b)
    assert "venue" in FUNDING_MODES


def test_venue_funding_refuses_bad_ranges(funded: tuple[MarketSnapshot, FundedBook]) -> None:
    market, _ = funded
    population = generate_population(market, 5, seed=1)
    with pytest.raises(InputError, match="near_mm"):
        fund_population(
            get_model("standard"), population, mode="venue", venue=VenueFunding(near_mm=(0.9, 1.1))
        )


def test_supported_accounts_of_an_arranged_book(funded: tuple[MarketSnapshot, FundedBook]) -> None:
    _, book = funded
    linear = supported_accounts(book.book, "derive-pmrm2")
    assert 0 < len(linear.account_ids) < len(book.book.account_ids)
    assert all(book.book.account_ids.index(a) >= 0 for a in linear.account_ids)


def test_demo_states_its_funding() -> None:
    result = CliRunner().invoke(app, ["demo", "--accounts", "60"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "funded like deribit would fund them" in text
    assert "so none starts below MM" in text
