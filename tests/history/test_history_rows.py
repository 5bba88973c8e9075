"""History files: every malformed row is a one-line error naming file, line and column, and
the outlier screen refuses a close beyond history.max_log_move (input_limits.toml)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pmargin._validation import input_limits
from pmargin.errors import InputError
from pmargin.history import (
    FUNDING_FILE,
    load_funding,
    load_price_history,
    read_binance_closes,
    read_dvol,
)

HEADER = "timestamp,open,high,low,close,volume\n"


def _candles(closes: list[float]) -> str:
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + len(closes))
    rows = [f"{d},{c},{c},{c},{c},1.0\n" for d, c in zip(days, closes, strict=True)]
    return HEADER + "".join(rows)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_clean_file_reads_with_the_close_one_period_after_the_open(tmp_path: Path) -> None:
    path = _write(tmp_path, "c.csv", _candles([100.0, 101.0, 99.5]))
    times, closes = read_binance_closes(path, 24)
    assert str(times[0]) == "2024-01-02T00:00:00"
    np.testing.assert_array_equal(closes, [100.0, 101.0, 99.5])


def test_a_close_x100_is_refused_naming_file_line_and_move(tmp_path: Path) -> None:
    closes = [100.0, 101.0, 10_100.0, 102.0]
    path = _write(tmp_path, "spike.csv", _candles(closes))
    with pytest.raises(InputError) as err:
        read_binance_closes(path, 24)
    message = str(err.value)
    move = math.log(10_100.0 / 101.0)  # line 4 holds the third close (line 1 is the header)
    assert f"spike.csv line 4 close: 10100.0 is a log move of {move:+.2f}" in message
    assert "previous close 101 (line 3" in message
    assert "history.max_log_move" in message


@pytest.mark.parametrize("factor", [0.3, 3.0])
def test_the_screen_threshold_is_the_limit_file_value(tmp_path: Path, factor: float) -> None:
    limit = input_limits().number("history", "max_log_move")
    inside = math.exp(limit * 0.99) if factor > 1 else math.exp(-limit * 0.99)
    outside = math.exp(limit * 1.01) if factor > 1 else math.exp(-limit * 1.01)
    ok = _write(tmp_path, "ok.csv", _candles([100.0, 100.0 * inside]))
    read_binance_closes(ok, 24)
    bad = _write(tmp_path, "bad.csv", _candles([100.0, 100.0 * outside]))
    with pytest.raises(InputError, match="line 3 close"):
        read_binance_closes(bad, 24)


def test_real_data_passes_the_screen_with_room(shared_data: Path) -> None:
    # The largest real daily move in the shared data (ETH, 2020-03-12) is -0.59.
    history = load_price_history(shared_data)
    moves = np.abs(np.diff(np.log(history.closes), axis=0))
    assert moves.max() < 0.6 < input_limits().number("history", "max_log_move")


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (HEADER + "2024-01-01,1,1,1\n", "line 2", "has 4 cells; the header has 6"),
        (HEADER + "2024-01-01,1,1,1,abc,1\n", "line 2 column close", "decimal number"),
        (HEADER + "2024-01-01,1,1,1,nan,1\n", "line 2 column close", "decimal number"),
        (HEADER + "2024-01-01,1,1,1,1e400,1\n", "line 2 column close", "decimal number"),
        (HEADER + "2024-01-01,1,1,1,-5,1\n", "line 2 column close", "decimal number"),
        (HEADER + "2024-13-01,1,1,1,5,1\n", "line 2 column timestamp", "not an ISO date"),
        (HEADER + "2301-01-01,1,1,1,5,1\n", "line 2 column timestamp", "in the years 1970"),
        (HEADER + "1960-01-01,1,1,1,5,1\n", "line 2 column timestamp", "in the years 1970"),
        ("timestamp,open\n2024-01-01,1\n", "header", "'close' exactly once"),
        ("timestamp,close,close\n2024-01-01,1,1\n", "header", "'close' exactly once"),
        (HEADER, "", "has no data rows"),
    ],
)
def test_malformed_rows_name_file_line_and_column(
    tmp_path: Path, text: str, where: str, words: str
) -> None:
    path = _write(tmp_path, "rows.csv", text)
    with pytest.raises(InputError) as err:
        read_binance_closes(path, 24)
    message = str(err.value)
    assert f"rows.csv {where}".strip() in message
    assert words in message
    assert "\n" not in message
    assert len(message) < 300


def test_funding_rows_are_checked(tmp_path: Path) -> None:
    good = "timestamp,funding_rate\n2024-01-01 00:00:00.000,0.0001\n2024-01-01 08:00:00.000,-2e-4\n"
    _write(tmp_path, FUNDING_FILE, good)
    funding = load_funding(tmp_path)
    np.testing.assert_array_equal(funding.rates, [0.0001, -0.0002])
    limit = input_limits().number("history", "max_abs_funding")
    _write(tmp_path, FUNDING_FILE, good + f"2024-01-01 16:00:00.000,{limit * 2}\n")
    with pytest.raises(InputError, match="line 4 column funding_rate"):
        load_funding(tmp_path)
    _write(tmp_path, FUNDING_FILE, "timestamp,funding_rate\n2024-01-01,\n")
    with pytest.raises(InputError, match="line 2 column funding_rate"):
        load_funding(tmp_path)


@pytest.mark.parametrize(
    ("points", "words"),
    [
        ("[[1667692800000, 56.76], [1667779200000]]", "[1]: [1667779200000] must be a pair"),
        ("[[1667692800000, 56.76], [1667779200, 50]]", "[1][0]: 1667779200 is before 1973"),
        ("[[1667692800000000, 56.76]]", "[0][0]: 1667692800000000 is after 2200"),
        ("[[1667692800000, -1]]", "[0][1]: -1 must be a finite number in (0, 1000]"),
        ('[[1667692800000, "56"]]', "[0][1]: '56' must be a number"),
        ("{}", "must be a non-empty list"),
    ],
)
def test_dvol_points_are_checked(tmp_path: Path, points: str, words: str) -> None:
    path = _write(tmp_path, "dvol.json", points)
    with pytest.raises(InputError) as err:
        read_dvol(path)
    assert words in str(err.value)


def test_dvol_reads_vol_points_as_decimals(tmp_path: Path) -> None:
    path = _write(tmp_path, "dvol.json", "[[1667692800000, 56.76]]")
    times, vols = read_dvol(path)
    assert str(times[0]) == "2022-11-07T00:00:00"
    assert vols[0] == pytest.approx(0.5676, rel=1e-15)
