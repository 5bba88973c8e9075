"""``pmargin feed deribit|okx --to URL --key KEY``: a venue's live prices into a service.

Registered in :mod:`pmargin.cli.main` with one line, ``app.command("feed")(_one_line_errors(feed))``
(input errors on one line, exit code 2). The command parses
its options and runs :func:`pmargin.feeds.run_feed` until Ctrl-C or ``--duration``; the feed
logs to stderr (a status line every ``--status`` seconds) and prints the final counters
(``--json``: as JSON on stdout). Rules: ``docs/feeds.md``.

Imports of the library are lazy (inside the functions), so ``pmargin --help`` stays quick.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

__all__ = ["feed"]

_To = Annotated[
    str,
    typer.Option(
        "--to",
        metavar="URL",
        help="The service (pmargin serve), e.g. http://127.0.0.1:8000.",
        show_default=False,
    ),
]
_Key = Annotated[
    str,
    typer.Option(
        "--key",
        metavar="KEY",
        envvar="PMARGIN_FEED_KEY",
        help="A feed (or admin) key of the service; or the PMARGIN_FEED_KEY variable.",
        show_default=False,
    ),
]
_Underlying = Annotated[
    list[str] | None,
    typer.Option(
        "--underlying",
        metavar="CODE",
        help="Follow only this underlying (repeat for more); needed when the service cannot "
        "say what it holds.",
        show_default=False,
    ),
]
_Instrument = Annotated[
    list[str] | None,
    typer.Option(
        "--instrument",
        metavar="SYMBOL",
        help="Also follow this venue symbol (repeat for more).",
        show_default=False,
    ),
]
_Url = Annotated[
    str | None,
    typer.Option(
        "--url", metavar="WSS", help="The venue's WebSocket endpoint (default: production)."
    ),
]
_Interval = Annotated[
    float, typer.Option("--interval", help="Seconds between posts to the service.", min=0.01)
]
_Stale = Annotated[
    float,
    typer.Option("--stale", help="Seconds without a tick before an underlying is stale.", min=0.1),
]
_Silence = Annotated[
    float,
    typer.Option(
        "--silence", help="Seconds without any frame before reconnecting (heartbeat gap).", min=1
    ),
]
_MaxBackoff = Annotated[
    float, typer.Option("--max-backoff", help="Largest reconnect delay in seconds.", min=0.1)
]
_Status = Annotated[
    float, typer.Option("--status", help="Seconds between status lines on stderr.", min=0.1)
]
_Duration = Annotated[
    float | None,
    typer.Option("--duration", help="Stop after this many seconds (default: until Ctrl-C).", min=0),
]
_Json = Annotated[bool, typer.Option("--json", help="Print the final counters as JSON.")]
_Quiet = Annotated[bool, typer.Option("--quiet", help="Log warnings only (no status lines).")]


def feed(
    venue: Annotated[
        str,
        typer.Argument(
            metavar="VENUE",
            help="deribit (price index, futures tickers, options' mark IV) or okx (index "
            "tickers, swap and futures marks, options' markVol).",
            show_default=False,
        ),
    ],
    to: _To,
    key: _Key,
    underlying: _Underlying = None,
    instrument: _Instrument = None,
    url: _Url = None,
    interval: _Interval = 1.0,
    stale: _Stale = 30.0,
    silence: _Silence = 30.0,
    max_backoff: _MaxBackoff = 30.0,
    status: _Status = 10.0,
    duration: _Duration = None,
    as_json: _Json = False,
    quiet: _Quiet = False,
) -> None:
    """Feed a running service (pmargin serve) with a venue's live prices.

    Follows what the service's market holds: Deribit deribit_price_index, ticker and
    markprice.options channels, OKX index-tickers, mark-price and opt-summary
    (docs/feeds.md). Runs until Ctrl-C or --duration.
    """
    _run(venue, locals())


def _run(venue: str, options: dict[str, Any]) -> None:
    import asyncio
    import contextlib
    import logging
    import signal
    import sys

    from pmargin.feeds import FeedConfig, FeedStats, run_feed

    config = FeedConfig(
        venue=venue,
        to=options["to"],
        key=options["key"],
        url=options["url"],
        underlyings=tuple(options["underlying"] or ()),
        instruments=tuple(options["instrument"] or ()),
        interval=options["interval"],
        stale_seconds=options["stale"],
        silence_seconds=options["silence"],
        keepalive_seconds=min(20.0, options["silence"] * 2.0 / 3.0),
        backoff_cap=options["max_backoff"],
        status_seconds=options["status"],
        duration=options["duration"] or None,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("pmargin.feeds")
    saved = (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.WARNING if options["quiet"] else logging.INFO)
    log.propagate = False

    async def main() -> FeedStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):  # stop cleanly: post what is pending
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(number, stop.set)
        return await run_feed(config, stop=stop)

    try:
        stats = asyncio.run(main())
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]
    if options["as_json"]:
        print(json.dumps(stats.to_dict(), indent=1))
