"""Every instrument name in the real Deribit chains under ../shared/data/deribit parses.

The data directory defaults to ``<repo>/../shared/data`` and can be moved with the environment
variable ``PMARGIN_SHARED_DATA``; the tests skip when it is absent.
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pmargin.instruments import Kind, Right, Settlement, format_symbol, parse_symbol

SHARED_DATA = Path(
    os.environ.get("PMARGIN_SHARED_DATA", Path(__file__).parents[2].parent / "shared" / "data")
)
DERIBIT_DIR = SHARED_DATA / "deribit"
CHAINS = sorted(DERIBIT_DIR.glob("*.csv")) if DERIBIT_DIR.is_dir() else []

pytestmark = pytest.mark.skipif(not CHAINS, reason=f"no Deribit chains under {DERIBIT_DIR}")

_MONTHS = {
    month: number
    for number, month in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _expiry_from_columns(row: dict[str, str]) -> datetime | None:
    """The expiry each file states apart from the name (ms timestamp, ISO text or DMMMYY)."""
    if row.get("expiration_timestamp"):
        return datetime.fromtimestamp(int(row["expiration_timestamp"]) / 1000, tz=UTC)
    if row.get("expiry_datetime"):
        return datetime.fromisoformat(row["expiry_datetime"])
    if row.get("expire_date"):
        text = row["expire_date"]
        day, month, year = int(text[:-5]), _MONTHS[text[-5:-2]], 2000 + int(text[-2:])
        return datetime(year, month, day, 8, tzinfo=UTC)
    return None


@pytest.mark.parametrize("path", CHAINS, ids=[p.name for p in CHAINS])
def test_every_deribit_instrument_name_parses_and_round_trips(path: Path) -> None:
    rows = _rows(path)
    assert rows, path
    checked_expiry = 0
    for row in rows:
        name = row["instrument_name"]
        instrument = parse_symbol(name)
        assert instrument.venue == "deribit"
        assert format_symbol(instrument) == name
        assert instrument.kind is Kind.OPTION
        assert instrument.settlement is Settlement.INVERSE
        assert instrument.quote == "USD"
        strike_text = row.get("strike") or row.get("strike_price")
        assert strike_text is not None
        assert instrument.strike == float(strike_text)
        option_type = (row.get("option_type") or "").lower()
        expected_right = Right.CALL if option_type in ("call", "c") else Right.PUT
        assert option_type in ("call", "put", "c", "p")
        assert instrument.right is expected_right
        currency = row.get("currency") or row.get("base_currency")
        if currency:
            assert instrument.underlying == currency
        expiry = _expiry_from_columns(row)
        if expiry is not None:
            assert instrument.expiry == expiry
            checked_expiry += 1
    assert checked_expiry == len(rows)
