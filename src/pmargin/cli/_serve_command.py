"""``pmargin serve`` and ``pmargin keys create``: start the service, make an API key.

Registered in :mod:`pmargin.cli.main` (``app.command("serve")``, ``app.add_typer(keys_app)``).
Both open the store with :func:`pmargin.service.open_store`, which migrates it or refuses it
with the reason on one line (exit 2). The service itself is :mod:`pmargin.service`
(docs/service.md). It is imported when a command runs, so that the other commands do not
load the web and database libraries.
"""

from __future__ import annotations

from typing import Annotated

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
) -> None:
    """Serve the REST API over a durable ledger (SQLite file pmargin.db by default).

    The database is migrated on start; one that cannot be migrated is refused with the reason.
    Create a key first with ``pmargin keys create --role admin``.
    """
    import uvicorn

    from pmargin.service import DEFAULT_DB, MAX_BODY_BYTES, create_app, open_store

    engine = open_store(db or DEFAULT_DB)
    app = create_app(engine, max_body=max_body or MAX_BODY_BYTES, model=model)
    where = engine.url.render_as_string(hide_password=True)
    print(f"pmargin serve: {where} on http://{host}:{port}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


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
