"""Where history is read from: the search order, the packaged compact history, gzip files."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.history import (
    CACHE_ENV_VAR,
    DATA_ENV_VAR,
    USER_DATA_ENV_VAR,
    data_folders,
    load_funding,
    load_price_history,
    packaged_data_dir,
    read_dvol,
    resolve_data_dir,
    user_cache_dir,
)
from pmargin.history._rows import read_gzip_text
from shared_paths import REPO, shared_data_dir

DAILY = ("binance_BTCUSDT_1d.csv", "binance_ETHUSDT_1d.csv")
FOUR_HOURLY = ("binance_BTCUSDT_4h.csv", "binance_ETHUSDT_4h.csv")


def _history_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "binance_BTCUSDT_1d.csv").write_text("timestamp,close\n2024-01-01,1\n2024-01-02,2\n")
    return path


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No variables, a working directory without ../shared/data, an empty cache root."""
    for name in (DATA_ENV_VAR, USER_DATA_ENV_VAR):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "xdg"))
    work = tmp_path / "a" / "work"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    return tmp_path


def test_the_packaged_history_is_last_and_always_there(isolated: Path) -> None:
    assert resolve_data_dir() == packaged_data_dir()
    steps = data_folders()
    assert [s.source for s in steps] == ["../shared/data", "user cache", "packaged"]
    assert [s.usable for s in steps] == [False, False, True]


def test_search_order_first_usable_wins(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _history_folder(isolated / "xdg" / "pmargin")
    assert user_cache_dir() == cache
    assert resolve_data_dir() == cache
    shared = _history_folder(isolated / "a" / "shared" / "data")
    assert resolve_data_dir() == shared
    named_shared = _history_folder(isolated / "named_shared")
    monkeypatch.setenv(DATA_ENV_VAR, str(named_shared))
    assert resolve_data_dir() == named_shared
    mine = _history_folder(isolated / "mine")
    monkeypatch.setenv(USER_DATA_ENV_VAR, str(mine))
    assert resolve_data_dir() == mine
    flag = _history_folder(isolated / "flag")
    assert resolve_data_dir(flag) == flag
    assert [s.source for s in data_folders(flag)] == [
        "--data",
        "PMARGIN_DATA",
        "PMARGIN_SHARED_DATA",
        "user cache",
        "packaged",
    ]


def test_an_empty_cache_is_passed_over(isolated: Path) -> None:
    (isolated / "xdg" / "pmargin").mkdir(parents=True)
    assert resolve_data_dir() == packaged_data_dir()


def test_cache_root_defaults_to_home(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CACHE_ENV_VAR)
    monkeypatch.setenv("HOME", str(isolated / "home"))
    assert user_cache_dir() == isolated / "home" / ".cache" / "pmargin"
    monkeypatch.setenv(CACHE_ENV_VAR, "relative/path")  # not absolute: ignored (XDG rule)
    assert user_cache_dir() == isolated / "home" / ".cache" / "pmargin"


@pytest.mark.parametrize("name", ["--data", USER_DATA_ENV_VAR, DATA_ENV_VAR])
def test_a_named_folder_that_is_missing_names_its_flag_or_variable(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    missing = isolated / "nowhere"
    if name == "--data":
        with pytest.raises(InputError, match=r"^--data") as info:
            resolve_data_dir(missing)
    else:
        monkeypatch.setenv(name, str(missing))
        with pytest.raises(InputError, match=f"^{name}") as info:
            resolve_data_dir()
    assert str(missing) in str(info.value)
    assert "path=" not in str(info.value)


def test_a_missing_file_names_it_the_folder_and_how_to_get_it(isolated: Path) -> None:
    folder = _history_folder(isolated / "daily-only")
    with pytest.raises(InputError, match=r"^--data") as info:
        load_price_history(folder, frequency="4h", underlyings=("BTC",), with_dvol=False)
    text = str(info.value)
    assert "binance_BTCUSDT_4h.csv" in text
    assert str(folder) in text
    assert "pmargin data fetch" in text


def test_four_hourly_closes_are_packaged(isolated: Path) -> None:
    history = load_price_history(frequency="4h", with_carry=True)
    assert history.names == ("BTC", "ETH")
    assert history.step == 4.0
    assert history.times[0] == np.datetime64("2017-08-17T08:00:00")
    assert len(history.gaps()) == 8  # the data outages of the full files (longest 32 h)


def test_packaged_history_is_small() -> None:
    files = sorted(packaged_data_dir().iterdir())
    names = {f.name for f in files}
    assert names >= {f"{n}.gz" for n in DAILY + FOUR_HOURLY} | {
        "binance_funding_rate_BTCUSDT_8h.csv.gz",
        "deribit_dvol_btc_1d.json",
    }
    assert sum(f.stat().st_size for f in files) < 400_000  # about 325 kB


def test_packaged_history_loads_alone(isolated: Path) -> None:
    history = load_price_history(with_carry=True)
    assert history.names == ("BTC", "ETH")
    assert history.step == 24.0
    assert history.times[0] == np.datetime64("2017-08-18T00:00:00")
    assert np.isfinite(history.iv[:, 0]).sum() > 1000
    assert np.isfinite(history.carry[:, 0]).sum() > 2000  # type: ignore[index]


def _shared() -> Path:
    folder = shared_data_dir()
    if not (folder / "binance_BTCUSDT_1d.csv").is_file():
        pytest.skip(f"shared data not found at {folder} (set PMARGIN_SHARED_DATA)")
    return folder


def test_packaged_history_equals_the_shared_files_bit_for_bit() -> None:
    shared = _shared()
    packaged = packaged_data_dir()
    full = load_price_history(shared, with_carry=True)
    compact = load_price_history(packaged, with_carry=True)
    np.testing.assert_array_equal(compact.times, full.times)
    np.testing.assert_array_equal(compact.closes, full.closes)
    np.testing.assert_array_equal(compact.iv, full.iv)
    np.testing.assert_array_equal(compact.carry, full.carry)  # type: ignore[arg-type]
    assert compact.sources == full.sources
    a, b = load_funding(shared), load_funding(packaged)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.rates, b.rates)
    for x, y in zip(
        read_dvol(shared / "deribit_dvol_btc_1d.json"),
        read_dvol(packaged / "deribit_dvol_btc_1d.json"),
        strict=True,
    ):
        np.testing.assert_array_equal(x, y)


def test_build_script_rewrites_the_packaged_files() -> None:
    shared = _shared()
    spec = importlib.util.spec_from_file_location(
        "build_compact_history", REPO / "scripts" / "build_compact_history.py"
    )
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for name in DAILY + FOUR_HOURLY:
        packed = gzip.decompress((packaged_data_dir() / f"{name}.gz").read_bytes())
        assert packed.decode() == script.closes_csv(shared / name)
    funding = "binance_funding_rate_BTCUSDT_8h.csv"
    assert gzip.decompress((packaged_data_dir() / f"{funding}.gz").read_bytes()) == (
        (shared / funding).read_bytes()
    )


def test_gzip_reader_refuses_a_file_that_is_not_gzip(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv.gz"
    bad.write_text("timestamp,close\n")
    with pytest.raises(InputError, match="not a readable gzip file"):
        read_gzip_text(bad, "history file")
    good = tmp_path / "y.csv.gz"
    good.write_bytes(gzip.compress(b"timestamp,close\n2024-01-01,5\n"))
    assert read_gzip_text(good, "history file").startswith("timestamp,close")
