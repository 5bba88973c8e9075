"""``pmargin feed deribit|okx --to URL --key KEY``: a venue's live prices into a service.

Registered in :mod:`pmargin.cli.main` with one line, ``register_feed(app, _one_line_errors)``
(the sub-app ``feed``, each venue a command, input errors on one line). The command parses
its options and runs :func:`pmargin.feeds.run_feed` until Ctrl-C or ``--duration``; the feed
logs to stderr (a status line every ``--status`` seconds) and prints the final counters
(``--json``: as JSON on stdout). Rules: ``docs/feeds.md``.

Imports of the library are lazy (inside the functions), so ``pmargin --help`` stays quick.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

__all__ = ["feed_deribit", "feed_okx", "register_feed"]

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


def feed_deribit(
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
    """Feed a service from Deribit: price index, futures tickers, options' mark IV.

    Channels deribit_price_index.{coin}_usd, ticker.{future}.100ms and
    markprice.options.{coin}_usd for what the service's market holds (docs/feeds.md).
    """
    _run("deribit", locals())


def feed_okx(
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
    """Feed a service from OKX: index tickers, swap and futures marks, options' markVol.

    Channels index-tickers ({COIN}-USD), mark-price (each swap or future) and opt-summary
    ({COIN}-USD) for what the service's market holds (docs/feeds.md).
    """
    _run("okx", locals())


def register_feed(app: typer.Typer, wrap: Callable[[Any], Any]) -> None:
    """Add the ``feed`` sub-app to ``app``, each venue's command wrapped by ``wrap``."""
    feed_app = typer.Typer(
        name="feed",
        help="Feed a running service (pmargin serve) with a venue's live prices.",
        no_args_is_help=True,
    )
    feed_app.command("deribit")(wrap(feed_deribit))
    feed_app.command("okx")(wrap(feed_okx))
    app.add_typer(feed_app, name="feed")


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
    if options["as_json"]:
        print(json.dumps(stats.to_dict(), indent=1))
