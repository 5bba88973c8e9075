"""Build the compact history shipped in the package, from the shared real data.

Run by hand from the repository root (it is not part of the package)::

    .venv/bin/python scripts/build_compact_history.py

It reads ``$PMARGIN_SHARED_DATA`` (default ``<repo>/../shared/data``) and writes
``src/pmargin/data/history/``:

* ``binance_{BTC,ETH}USDT_1d.csv.gz`` and ``binance_{BTC,ETH}USDT_4h.csv.gz``: the
  ``timestamp`` and ``close`` columns of the Binance daily and 4-hourly candles, each cell's
  text unchanged;
* ``binance_funding_rate_BTCUSDT_8h.csv.gz``: the Binance BTCUSDT funding prints, unchanged;
* ``deribit_dvol_btc_1d.json``: the Deribit BTC DVOL daily closes ``[unix_ms, vol_points]``,
  same numbers, without the indentation.

The loaders of :mod:`pmargin.history` read these exactly like the full files (a ``.gz`` CSV is
decompressed on read), so every daily result equals the one from ``../shared/data``
(``tests/history/test_data_paths.py``). The 4-hourly closes ship whole (224 kB of the 325
kB), not only the named episodes' windows: the trailing realised vol the replay and the stress
episodes read is a difference of running sums from the first close, so any cut rows would move
it in the 14th digit (docs/data.md). gzip
is written with ``mtime=0``: rerunning on the same data rewrites byte-identical files. Sources
and credits: ``docs/data.md``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "pmargin" / "data" / "history"

CLOSES = (
    "binance_BTCUSDT_1d.csv",
    "binance_ETHUSDT_1d.csv",
    "binance_BTCUSDT_4h.csv",
    "binance_ETHUSDT_4h.csv",
)
FUNDING = "binance_funding_rate_BTCUSDT_8h.csv"
DVOL = "deribit_dvol_btc_1d.json"


def shared_data_dir() -> Path:
    """``$PMARGIN_SHARED_DATA`` or ``<repo>/../shared/data``; exits if it is missing."""
    folder = Path(os.environ.get("PMARGIN_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not folder.is_dir():
        raise SystemExit(f"shared data not found at {folder}; set PMARGIN_SHARED_DATA")
    return folder


def closes_csv(path: Path) -> str:
    """Return the ``timestamp,close`` columns of a Binance candle file, cells as written."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "close"])
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            writer.writerow([row["timestamp"], row["close"]])
    return out.getvalue()


def write_gzip(path: Path, text: str) -> None:
    """Write ``text`` gzip-compressed (level 9, no timestamp, so reruns are byte-identical)."""
    path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def main() -> None:
    """Write the six files and print their sizes."""
    data = shared_data_dir()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in CLOSES:
        write_gzip(OUT_DIR / f"{name}.gz", closes_csv(data / name))
    write_gzip(OUT_DIR / f"{FUNDING}.gz", (data / FUNDING).read_text(encoding="utf-8"))
    points = json.loads((data / DVOL).read_text(encoding="utf-8"))
    (OUT_DIR / DVOL).write_text(json.dumps(points, separators=(",", ":")) + "\n", encoding="utf-8")
    total = 0
    for file in sorted(OUT_DIR.iterdir()):
        size = file.stat().st_size
        total += size
        print(f"{file.name:45s} {size:8,d} B")
    print(f"{'total':45s} {total:8,d} B")


if __name__ == "__main__":
    main()
