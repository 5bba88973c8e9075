"""``pmargin serve`` and ``pmargin keys create``: start the service, make an API key.

``pmargin serve`` also serves the dashboard at ``/`` (docs/dashboard.md); ``--demo`` loads the
crash replay's population into a fresh store and plays a real crash through the tick path.

Registered in :mod:`pmargin.cli.main` (``app.command("serve")``, ``app.add_typer(keys_app)``).
Both open the store with :func:`pmargin.service.open_store`, which migrates it or refuses it
with the reason on one line (exit 2). The service itself is :mod:`pmargin.service`
(docs/service.md). It is imported when a command runs, so that the other commands do not
load the web and database libraries.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["keys_app", "keys_create", "serve"]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://... "
        "(default sqlite:///pmargin.db)",
    ),
]

keys_app = typer.Typer(
    name="keys", help="API keys of the service (pmargin serve).", no_args_is_help=True
)


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=0, max=65535)] = 8000,
    max_body: Annotated[
        int | None,
        typer.Option("--max-body", help="Largest request body in bytes (default 1 MiB).", min=1),
    ] = None,
    model: Annotated[
        str,
        typer.Option("--model", help="Margin model of reads and checks without ?model=."),
    ] = "deribit",
    reports: Annotated[
        Path | None,
        typer.Option(
            "--reports",
            help="Folder the dashboard lists backtest and crash-replay reports from "
            "(its */report.html and build/*/report.html; default the working directory).",
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Live demo: load the crash replay's seeded population into a fresh store "
            "and play a real crash as ticks (prints an admin and a trader key).",
        ),
    ] = False,
    episode: Annotated[
        str, typer.Option("--episode", help="--demo: the crash played (ftx, covid, ...).")
    ] = "ftx",
    accounts: Annotated[
        int, typer.Option("--accounts", help="--demo: accounts in the population.", min=1)
    ] = 100,
    pace: Annotated[
        float, typer.Option("--pace", help="--demo: seconds between path points.", min=0.0)
    ] = 1.0,
) -> None:
    """Serve the REST API and the dashboard (at /) over a durable ledger (SQLite pmargin.db).

    The database is migrated on start; one that cannot be migrated is refused with the reason.
    Create a key first with ``pmargin keys create --role admin``. With ``--demo`` the store is
    a fresh temporary SQLite file (or ``--db``, which must be empty) holding the crash
    replay's population, and the crash path is played through the tick path.
    """
    import uvicorn

    from pmargin.service import DEFAULT_DB, MAX_BODY_BYTES, create_app, open_store

    scratch = tempfile.TemporaryDirectory(prefix="pmargin-demo-") if demo else None
    if scratch is not None and db is None:
        db = f"sqlite:///{Path(scratch.name) / 'demo.db'}"
    engine = open_store(db or DEFAULT_DB)
    app = create_app(engine, max_body=max_body or MAX_BODY_BYTES, model=model)
    app.state.reports = reports
    where = engine.url.render_as_string(hide_password=True)
    player = _start_demo(engine, host, port, model, episode, accounts, pace) if demo else None
    print(f"pmargin serve: {where} on http://{host}:{port}", flush=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
    finally:
        if player is not None:
            player.stopped.set()
        if scratch is not None:
            engine.dispose()
            scratch.cleanup()


def _start_demo(
    engine: Any, host: str, port: int, model: str, episode: str, accounts: int, pace: float
) -> Any:
    """Load the demo into the store, print its keys, start posting its ticks; the player."""
    from pmargin.engine import demo_inputs
    from pmargin.service import TickPlayer, load_demo

    print(f"pmargin serve --demo: building {accounts} accounts and the {episode} path...")
    inputs = demo_inputs(episode=episode.strip().lower(), n_accounts=accounts, model=model)
    keys = load_demo(engine, inputs)
    print(
        f"pmargin serve --demo: {inputs['episode']}, {len(inputs['ticks'])} path points (an "
        f"index and vol tick per underlying each), one every {pace:g} s"
    )
    print(f"  admin key:  {keys.admin}")
    print(f"  trader key: {keys.trader}  (account {keys.account})")
    print(f"  open http://{host}:{port}/ and paste a key", flush=True)
    player = TickPlayer(f"http://{host}:{port}", keys.admin, inputs["ticks"], pace, inputs["times"])
    player.start()
    return player


def keys_create(
    role: Annotated[str, typer.Option("--role", help="admin, trader (one account) or feed.")],
    account: Annotated[
        str | None, typer.Option("--account", help="The one account of a trader key.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create an API key; it is printed once, alone on the last line (only its hash is kept)."""
    from pmargin.service import DEFAULT_DB, check_key_request, create_key, open_store

    check_key_request(role, account)
    engine = open_store(db or DEFAULT_DB)
    try:
        key = create_key(engine, role, account)
    finally:
        engine.dispose()
    scope = f" for account {account}" if account else ""
    print(f"pmargin keys create: new {role} key{scope}; store it now, it is not shown again:")
    print(key)
