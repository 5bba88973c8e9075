"""Build the example market snapshot and portfolio shipped with pmargin, from real history.

Run by hand from the repository root (it is not part of the package)::

    .venv/bin/python scripts/build_example_data.py

It reads the real market data in ``$PMARGIN_SHARED_DATA`` (default ``<repo>/../shared/data``),
never copies it, and writes ``src/pmargin/data/example_market.json`` and
``src/pmargin/data/example_portfolio.json``. Every number and its source is explained in
``docs/example-data.md``. In short:

* as-of date 2025-11-12, the last day with both Deribit BTC DVOL and Binance daily closes; the
  snapshot instant is 2025-11-13T00:00:00Z, when that day's daily candles close;
* index = Binance BTCUSDT / ETHUSDT close (USDT taken as USD for the index);
* 30-day ATM vol: BTC = DVOL; ETH = DVOL x (ETH / BTC 30-day realised vol);
* ATM term structure and smile shape (SSVI, converted to raw SVI per expiry) fitted to the real
  Deribit chain of 2026-01-05 in the shared data, rescaled to the 30-day level above;
* forwards and futures = index x exp(carry x T), carry = mean Binance BTCUSDT funding over the
  30 days before the snapshot x 3 x 365.

The script asserts that the surfaces are free of butterfly arbitrage (g(k) >= 0 on k in [-3, 3])
and calendar arbitrage (total variance non-decreasing in T at every k), and prints a summary.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq, least_squares

from pmargin.market import (
    RawSVI,
    SmileQuotes,
    butterfly_check,
    calendar_check,
    fit_ssvi,
    significant,
    ssvi_phi,
    ssvi_slice_to_raw,
)
from pmargin.timeutil import expiry_on, year_fraction

FloatArray = npt.NDArray[np.float64]

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "pmargin" / "data"

AS_OF = date(2025, 11, 12)
"""Last date with both a DVOL point and Binance daily closes."""
TIMESTAMP = datetime(2025, 11, 13, tzinfo=UTC)
"""Snapshot instant: the close of the 2025-11-12 daily candles (Binance and DVOL)."""

WINDOW_DAYS = 30
"""Look-back window (days) for realised vol and mean funding."""
THIRTY_DAYS = 30.0 / 365.0
"""The DVOL tenor in ACT/365 years."""

REFERENCE_CHAIN = "deribit/znmahbub_deribit_options_snapshot_20260105T092511Z.csv"
MIN_FIT_T = 0.015
"""Reference-chain expiries shorter than this (years, ~5.5 days) are left out of the fits."""

OPTION_EXPIRIES = (
    date(2025, 11, 14),  # ~1 day: Friday (daily + weekly)
    date(2025, 11, 15),  # ~2 days: daily
    date(2025, 11, 21),  # 1 week: Friday weekly
    date(2025, 11, 28),  # 2 weeks: last Friday of November (monthly)
    date(2025, 12, 12),  # ~1 month: Friday weekly
    date(2025, 12, 26),  # ~1.5 months: last Friday of December (quarterly)
    date(2026, 1, 30),  # ~2.5 months: last Friday of January (monthly)
    date(2026, 3, 27),  # ~4.5 months: quarterly
    date(2026, 6, 26),  # ~7.5 months: quarterly
    date(2026, 9, 25),  # ~10.5 months: quarterly (longest listed in November 2025)
)
FUTURE_EXPIRIES = (
    date(2025, 11, 21),
    date(2025, 11, 28),
    date(2025, 12, 26),
    date(2026, 1, 30),
    date(2026, 3, 27),
    date(2026, 6, 26),
    date(2026, 9, 25),
)

USDC_PRICE = 1.0
"""Assumption: no USDC/USD history in the shared data."""
USD_RATE = 0.0
"""Deribit marks options and futures with r = 0; forwards carry the basis instead."""

SPX_INDEX = 6850.0
"""Illustrative S&P 500 level (close to the 2025-11-12 close; not from the shared data)."""
SPX_VOL = 0.17
"""Illustrative flat SPX implied vol."""
SPX_EXPIRY = date(2025, 12, 19)
"""Third Friday of December 2025 (date only, so 08:00 UTC in pmargin files)."""

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


# --------------------------------------------------------------------------- reading the data


def shared_data_dir() -> Path:
    """``$PMARGIN_SHARED_DATA`` or ``<repo>/../shared/data``; exits if it is missing."""
    folder = Path(os.environ.get("PMARGIN_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not folder.is_dir():
        raise SystemExit(f"shared data not found at {folder}; set PMARGIN_SHARED_DATA")
    return folder


def read_daily_closes(path: Path, date_column: str = "timestamp") -> dict[date, float]:
    """Daily closes by UTC date (the date the daily candle opens), USD or USDT per coin."""
    with path.open(encoding="utf-8") as handle:
        return {
            date.fromisoformat(row[date_column][:10]): float(row["close"])
            for row in csv.DictReader(handle)
        }


def read_dvol(path: Path) -> dict[date, float]:
    """DVOL by UTC candle date, in vol points (44.87 means 44.87 % a year)."""
    points = json.loads(path.read_text(encoding="utf-8"))
    return {datetime.fromtimestamp(ms / 1000.0, tz=UTC).date(): float(v) for ms, v in points}


def read_funding(path: Path) -> list[tuple[datetime, float]]:
    """Binance BTCUSDT funding prints: (UTC time, rate per 8-hour period as a fraction)."""
    with path.open(encoding="utf-8") as handle:
        return [
            (
                datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC),
                float(row["funding_rate"]),
            )
            for row in csv.DictReader(handle)
        ]


def realised_vol(closes: dict[date, float], last: date, days: int) -> float:
    """Annualised zero-mean realised vol of the ``days`` daily log returns ending at ``last``."""
    prices = np.array([closes[last - timedelta(days=i)] for i in range(days, -1, -1)])
    returns = np.diff(np.log(prices))
    return math.sqrt(float(np.mean(returns**2)) * 365.0)


def funding_window(funding: list[tuple[datetime, float]], end: datetime, days: int) -> list[float]:
    """Funding rates printed in ``[end - days, end)``."""
    start = end - timedelta(days=days)
    return [rate for when, rate in funding if start <= when < end]


def usdt_price(binance: dict[date, float], coinbase: dict[date, float], days: int) -> float:
    """USD price of one USDT: median of Coinbase BTCUSD / Binance BTCUSDT over common days."""
    common = sorted(set(binance) & set(coinbase))[-days:]
    return float(np.median([coinbase[d] / binance[d] for d in common]))


# --------------------------------------------------------------------------- reference chain


def read_reference_chain(path: Path, currency: str) -> list[SmileQuotes]:
    """Out-of-the-money options of one currency from the 2026-01-05 Deribit snapshot."""
    rows_by_expiry: dict[str, list[dict[str, str]]] = defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["currency"] == currency:
                rows_by_expiry[row["expiry_datetime"]].append(row)
    slices = []
    for expiry, rows in sorted(rows_by_expiry.items()):
        forward = float(rows[0]["underlying"])
        t = year_fraction(
            datetime.fromisoformat(rows[0]["timestamp"]), datetime.fromisoformat(expiry)
        )
        points = sorted(
            (math.log(float(r["strike"]) / forward), float(r["implied_volatility"]))
            for r in rows
            if (r["option_type"] == "call") == (float(r["strike"]) >= forward)
        )
        k = np.array([p[0] for p in points], dtype=np.float64)
        iv = np.array([p[1] for p in points], dtype=np.float64)
        slices.append(SmileQuotes(t=t, k=k, vols=iv))
    return slices


@dataclass(frozen=True)
class TermStructure:
    """ATM variance term structure relative to the 30-day level (mean-reverting variance).

    sigma_ATM(T)^2 / sigma_30^2 = (xi_inf + (xi_0 - xi_inf) (1 - exp(-T/tau)) / (T/tau)) / norm,
    the expected average of a variance that starts at xi_0 and reverts to xi_inf with time
    constant tau (years). ``norm`` makes the ratio 1 at 30 days.
    """

    xi_0: float
    xi_inf: float
    tau: float

    def raw(self, t: FloatArray | float) -> Any:
        """Unnormalised variance ratio at ``t`` years."""
        x = np.asarray(t, dtype=np.float64) / self.tau
        return self.xi_inf + (self.xi_0 - self.xi_inf) * (-np.expm1(-x)) / x

    def variance_ratio(self, t: FloatArray | float) -> Any:
        """sigma_ATM(t)^2 / sigma_30^2."""
        return self.raw(t) / self.raw(THIRTY_DAYS)


def fit_term_structure(chain: list[SmileQuotes]) -> TermStructure:
    """Fit :class:`TermStructure` to the chain's ATM variances divided by its 30-day variance."""
    used = [s for s in chain if s.t >= MIN_FIT_T]
    t = np.array([s.t for s in chain])
    theta = np.array([s.theta for s in chain])
    var_30 = float(np.interp(THIRTY_DAYS, t, theta)) / THIRTY_DAYS
    t_fit = np.array([s.t for s in used])
    ratio = np.array([s.atm_vol**2 for s in used]) / var_30

    def residual(p: FloatArray) -> FloatArray:
        model: FloatArray = TermStructure(float(p[0]), float(p[1]), float(p[2])).raw(t_fit)
        return model - ratio

    result = least_squares(residual, [1.0, 1.3, 0.3], bounds=([0.2, 0.2, 0.01], [5.0, 5.0, 3.0]))
    return TermStructure(float(result.x[0]), float(result.x[1]), float(result.x[2]))


# --------------------------------------------------------------------------- SVI


def check_no_arbitrage(name: str, slices: list[tuple[float, RawSVI]]) -> None:
    """Assert g(k) >= 0 on k in [-3, 3] per slice and w non-decreasing in T at every k."""
    ordered = [svi for _, svi in sorted(slices, key=lambda item: item[0])]
    for t, svi in sorted(slices, key=lambda item: item[0]):
        check = butterfly_check(svi)
        assert check.ok, f"{name} T={t:.4f}: butterfly arbitrage, min g {check.min_g}"
    calendar = calendar_check(ordered)
    assert calendar.ok, f"{name}: calendar arbitrage, min dw {min(calendar.min_gaps)}"


# --------------------------------------------------------------------------- Black-76


def norm_cdf(x: float) -> float:
    """Return the standard normal cumulative distribution at ``x``."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def black76(forward: float, strike: float, t: float, vol: float, is_call: bool) -> float:
    """Undiscounted Black-76 price (r = 0), in the quote currency per 1 unit of underlying."""
    s = vol * math.sqrt(t)
    d1 = math.log(forward / strike) / s + 0.5 * s
    d2 = d1 - s
    if is_call:
        return forward * norm_cdf(d1) - strike * norm_cdf(d2)
    return strike * norm_cdf(-d2) - forward * norm_cdf(-d1)


def black76_delta(forward: float, strike: float, t: float, vol: float, is_call: bool) -> float:
    """Forward Black delta: N(d1) for a call, N(d1) - 1 for a put."""
    s = vol * math.sqrt(t)
    d1 = math.log(forward / strike) / s + 0.5 * s
    return norm_cdf(d1) - (0.0 if is_call else 1.0)


# --------------------------------------------------------------------------- the snapshot


def deribit_date(day: date) -> str:
    """Deribit's expiry code: ``26DEC25`` (no leading zero on the day)."""
    return f"{day.day}{_MONTHS[day.month - 1]}{day.year % 100:02d}"


@dataclass(frozen=True)
class Underlying:
    """Everything the snapshot needs about one coin."""

    name: str
    index: float
    atm_30: float
    carry: float
    ssvi: tuple[float, float, float]
    term: TermStructure

    def t(self, day: date) -> float:
        """ACT/365 years from the snapshot to 08:00 UTC on ``day``."""
        return year_fraction(TIMESTAMP, expiry_on(day))

    def forward(self, day: date) -> float:
        """Return index x exp(carry x T), rounded to 0.01 USD."""
        return round(self.index * math.exp(self.carry * self.t(day)), 2)

    def thetas(self) -> dict[date, float]:
        """ATM total variance per option expiry, pinned to atm_30 at exactly 30 days.

        The curve's values at the expiries are scaled by one factor so that linear interpolation
        of total variance in T between the two expiries around 30 days gives atm_30^2 x 30/365.
        """
        t = np.array([self.t(d) for d in OPTION_EXPIRIES])
        theta = self.atm_30**2 * t * self.term.variance_ratio(t)
        scale = self.atm_30**2 * THIRTY_DAYS / float(np.interp(THIRTY_DAYS, t, theta))
        return {d: float(v) * scale for d, v in zip(OPTION_EXPIRIES, theta, strict=True)}

    def slices(self) -> dict[date, RawSVI]:
        """Raw SVI parameters per option expiry."""
        rho, eta, gamma = self.ssvi
        return {
            d: ssvi_slice_to_raw(theta, rho, float(ssvi_phi(theta, eta, gamma)))
            for d, theta in self.thetas().items()
        }

    def vol(self, day: date, strike: float) -> float:
        """Implied vol of the surface at ``strike`` for expiry ``day``."""
        svi = self.slices()[day]
        k = np.array([math.log(strike / self.forward(day))])
        return math.sqrt(float(svi.total_variance(k)[0]) / self.t(day))


def delta_strike_vol(u: Underlying, day: date, delta: float) -> float:
    """Vol at the strike whose forward Black delta is ``delta`` (0.25 call, -0.25 put)."""
    forward, t = u.forward(day), u.t(day)
    is_call = delta > 0

    def gap(k: float) -> float:
        strike = forward * math.exp(k)
        return black76_delta(forward, strike, t, u.vol(day, strike), is_call) - delta

    k = brentq(gap, -5.0, 5.0)
    return u.vol(day, forward * math.exp(k))


def build_market(
    btc: Underlying, eth: Underlying, usdt: float, perp_premium: float
) -> dict[str, Any]:
    """Build the market snapshot document (DESIGN.md format)."""
    marks: dict[str, dict[str, float]] = {}
    forwards: dict[str, dict[str, float]] = {}
    surfaces: dict[str, list[dict[str, Any]]] = {}
    for u in (btc, eth):
        forwards[u.name] = {d.isoformat(): u.forward(d) for d in OPTION_EXPIRIES}
        slices = u.slices()
        check_no_arbitrage(u.name, [(u.t(d), svi) for d, svi in slices.items()])
        surfaces[u.name] = [
            {"expiry": d.isoformat(), "forward": u.forward(d), "svi": svi.to_dict()}
            for d, svi in slices.items()
        ]
        for d in FUTURE_EXPIRIES:
            marks[f"{u.name}-{deribit_date(d)}"] = {"price": u.forward(d)}
    marks["BTC-PERPETUAL"] = {"price": round(btc.index * (1.0 + perp_premium), 2)}
    marks["ETH-PERPETUAL"] = {"price": round(eth.index * (1.0 + perp_premium), 2)}
    marks["BTC_USDC-PERPETUAL"] = {"price": round(btc.index * (1.0 + perp_premium) / USDC_PRICE, 2)}
    for symbol in IV_MARKS:
        u, day, strike, _ = option_terms(symbol, btc, eth)
        marks[symbol] = {"iv": round(u.vol(day, strike), 4)}
    for symbol in PRICE_MARKS:
        u, day, strike, is_call = option_terms(symbol, btc, eth)
        usd = black76(u.forward(day), strike, u.t(day), u.vol(day, strike), is_call)
        marks[symbol] = {"price": round(usd / u.forward(day), 8)}
    spx_t = year_fraction(TIMESTAMP, expiry_on(SPX_EXPIRY))
    forwards["SPX"] = {SPX_EXPIRY.isoformat(): SPX_INDEX}
    surfaces["SPX"] = [
        {
            "expiry": SPX_EXPIRY.isoformat(),
            "forward": SPX_INDEX,
            "svi": {
                "a": significant(SPX_VOL**2 * spx_t),
                "b": 0.0,
                "rho": 0.0,
                "m": 0.0,
                "sigma": 0.1,
            },
        }
    ]
    return {
        "timestamp": TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "index": {"BTC": btc.index, "ETH": eth.index, "SPX": SPX_INDEX},
        "prices": {"USDC": USDC_PRICE, "USDT": usdt},
        "rates": {"USD": USD_RATE},
        "marks": dict(sorted(marks.items())),
        "forwards": forwards,
        "surfaces": surfaces,
    }


IV_MARKS = (
    "BTC-26DEC25-115000-C",
    "BTC-26DEC25-90000-P",
    "ETH-28NOV25-3500-C",
    "ETH-26DEC25-3500-C",
    "BTC_USDC-30JAN26-100000-P",
)
PRICE_MARKS = ("BTC-28NOV25-95000-P", "BTC-28NOV25-110000-C")


def option_terms(
    symbol: str, btc: Underlying, eth: Underlying
) -> tuple[Underlying, date, float, bool]:
    """(underlying, expiry date, strike, is_call) of a Deribit option symbol of this script."""
    base, code, strike, right = symbol.split("-")
    u = btc if base.split("_")[0] == "BTC" else eth
    day = datetime.strptime(code, "%d%b%y").date()
    return u, day, float(strike), right == "C"


def build_portfolio(btc: Underlying) -> dict[str, Any]:
    """Build the example portfolio document (DESIGN.md format)."""
    strangle = ((-20.0, 95_000.0, False), (-20.0, 110_000.0, True))
    day = date(2025, 11, 28)
    option_delta = sum(
        q * black76_delta(btc.forward(day), k, btc.t(day), btc.vol(day, k), c)
        for q, k, c in strangle
    )
    hedge_usd = -round(option_delta * btc.index / 10.0) * 10.0  # BTC-PERPETUAL: 10 USD lots
    return {
        "accounts": [
            {
                "id": "btc-collar",
                "balances": {"BTC": 10.0},
                "positions": [
                    {"instrument": "BTC-26DEC25-115000-C", "quantity": -10.0, "unit": "native"},
                    {"instrument": "BTC-26DEC25-90000-P", "quantity": 10.0, "unit": "native"},
                ],
            },
            {
                "id": "btc-short-strangle",
                "balances": {"BTC": 6.0},
                "positions": [
                    {"instrument": "BTC-28NOV25-95000-P", "quantity": -20.0, "unit": "native"},
                    {"instrument": "BTC-28NOV25-110000-C", "quantity": -20.0, "unit": "native"},
                    {"instrument": "BTC-PERPETUAL", "quantity": hedge_usd, "unit": "native"},
                ],
            },
            {
                "id": "eth-calendar",
                "balances": {"ETH": 120.0},
                "positions": [
                    {"instrument": "ETH-28NOV25-3500-C", "quantity": -100.0, "unit": "native"},
                    {"instrument": "ETH-26DEC25-3500-C", "quantity": 100.0, "unit": "native"},
                    {"instrument": "ETH-27MAR26", "quantity": -150_000.0, "unit": "native"},
                ],
            },
            {
                "id": "usdc-linear",
                "balances": {"USDC": 250_000.0},
                "positions": [
                    {"instrument": "BTC_USDC-30JAN26-100000-P", "quantity": 3.0, "unit": "native"},
                    {"instrument": "BTC_USDC-30JAN26-90000-P", "quantity": -3.0, "unit": "native"},
                    {"instrument": "BTC_USDC-12DEC25-115000-C", "quantity": -2.0, "unit": "native"},
                    {"instrument": "BTC_USDC-PERPETUAL", "quantity": 1.5, "unit": "base"},
                ],
            },
        ],
    }


def build_us_portfolio() -> dict[str, Any]:
    """Build the US index-option example (an explicit SPX spec, for the ``tims`` model)."""
    return {
        "accounts": [
            {
                "id": "usd-spx-hedge",
                "balances": {"USD": 50_000.0},
                "positions": [
                    {"instrument": "SPX-20251219-6500-P", "quantity": 5.0, "unit": "contracts"},
                ],
            },
        ],
        "instruments": [
            {
                "symbol": "SPX-20251219-6500-P",
                "kind": "option",
                "underlying": "SPX",
                "expiry": SPX_EXPIRY.isoformat(),
                "strike": 6500.0,
                "right": "put",
                "settlement": "linear",
                "quote": "USD",
                "contract_size": 100.0,
            }
        ],
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` with indent 2 and a final newline."""
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    """Derive the snapshot from the shared data, check it, write both files, print a summary."""
    data = shared_data_dir()
    btc_closes = read_daily_closes(data / "binance_BTCUSDT_1d.csv")
    eth_closes = read_daily_closes(data / "binance_ETHUSDT_1d.csv")
    coinbase = read_daily_closes(data / "bitstamp_coinbase_BTCUSD_1d_2011_2025.csv")
    dvol = read_dvol(data / "deribit_dvol_btc_1d.json")
    funding = read_funding(data / "binance_funding_rate_BTCUSDT_8h.csv")
    assert max(dvol) == AS_OF, f"DVOL ends {max(dvol)}, expected {AS_OF}"
    assert datetime.combine(AS_OF + timedelta(days=1), datetime.min.time(), UTC) == TIMESTAMP

    rv_btc = realised_vol(btc_closes, AS_OF, WINDOW_DAYS)
    rv_eth = realised_vol(eth_closes, AS_OF, WINDOW_DAYS)
    window = funding_window(funding, TIMESTAMP, WINDOW_DAYS)
    carry = float(np.mean(window)) * 3.0 * 365.0
    premium = float(np.mean(funding_window(funding, TIMESTAMP, 1)))
    usdt = round(usdt_price(btc_closes, coinbase, WINDOW_DAYS), 4)

    chain_path = data / REFERENCE_CHAIN
    fits = {}
    for coin in ("BTC", "ETH"):
        chain = read_reference_chain(chain_path, coin)
        shape = fit_ssvi(chain, min_t=MIN_FIT_T)
        fits[coin] = ((shape.rho, shape.eta, shape.gamma), fit_term_structure(chain))
    btc = Underlying("BTC", btc_closes[AS_OF], dvol[AS_OF] / 100.0, carry, *fits["BTC"])
    eth_atm = dvol[AS_OF] / 100.0 * rv_eth / rv_btc
    eth = Underlying("ETH", eth_closes[AS_OF], eth_atm, carry, *fits["ETH"])

    market = build_market(btc, eth, usdt, premium)
    portfolio = build_portfolio(btc)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write_json(OUT_DIR / "example_market.json", market)
    write_json(OUT_DIR / "example_portfolio.json", portfolio)
    write_json(OUT_DIR / "example_portfolio_us.json", build_us_portfolio())

    print(f"as of {AS_OF}, timestamp {market['timestamp']}")
    print(f"DVOL {dvol[AS_OF]}, RV30 BTC {rv_btc:.4f} ETH {rv_eth:.4f} ratio {rv_eth / rv_btc:.4f}")
    print(f"funding prints {len(window)}, mean {np.mean(window):.4e}/8h, carry {carry:.6f}/yr")
    print(f"perp premium {premium:.4e}, USDT {usdt}, hedge {portfolio['accounts'][1]}")
    for u in (btc, eth):
        rho, eta, gamma = u.ssvi
        term = u.term
        print(f"{u.name}: index {u.index} atm30 {u.atm_30:.4f} rho {rho:.4f} eta {eta:.4f} ")
        print(
            f"  gamma {gamma:.4f} xi0 {term.xi_0:.4f} xi_inf {term.xi_inf:.4f} tau {term.tau:.4f}"
        )
        print("  expiry      days    forward     ATM   RR25    BF25")
        for d in OPTION_EXPIRIES:
            atm = u.vol(d, u.forward(d))
            c25, p25 = delta_strike_vol(u, d, 0.25), delta_strike_vol(u, d, -0.25)
            print(
                f"  {d}  {u.t(d) * 365:6.2f}  {u.forward(d):10.2f}  {atm:.4f}  "
                f"{c25 - p25:+.4f}  {(c25 + p25) / 2 - atm:.4f}"
            )


if __name__ == "__main__":
    main()
