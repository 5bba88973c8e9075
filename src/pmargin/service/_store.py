"""Open the store: connect, migrate to the newest revision, or refuse with the reason.

``sqlite:///pmargin.db`` (the default, a file in the working directory) and
``postgresql+psycopg://user@host/db`` run the same code. SQLite is opened in WAL mode with
``synchronous=FULL`` so that an acknowledged write survives ``kill -9`` and a power cut.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event

from pmargin.errors import PmarginError

__all__ = ["DEFAULT_DB", "StoreError", "open_store", "schema_revision"]

DEFAULT_DB = "sqlite:///pmargin.db"
"""The embedded default store: ``pmargin.db`` in the working directory."""


class StoreError(PmarginError):
    """The store cannot be opened or migrated; the message says why, on one line."""


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("pmargin.service") / "migrations")
    )
    return config


def schema_revision(engine: Engine) -> str | None:
    """Return the store's Alembic revision (None for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_store(url: str = DEFAULT_DB) -> Engine:
    """Connect to the store and migrate it to the newest schema.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///path.db`` or ``postgresql+psycopg://...``.

    Returns
    -------
    Engine
        Connected and at the newest revision.

    Raises
    ------
    StoreError
        The URL is not a database we can reach, or the schema cannot be migrated (a revision
        this version does not know, tables that are not ours): the reason on one line.
    """
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except Exception as exc:
        raise StoreError(f"cannot use the database {url!r}: {_one_line(exc)}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    config = _alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    try:
        current = schema_revision(engine)
        known = {s.revision for s in ScriptDirectory.from_config(config).walk_revisions()}
        if current is not None and current not in known:
            raise StoreError(
                f"cannot migrate {engine.url.render_as_string(hide_password=True)}: its schema "
                f"revision {current!r} is newer than this pmargin knows (newest {head!r})"
            )
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except StoreError:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"cannot migrate {where}: {_one_line(exc)}") from None
    return engine


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    return text[:300] or type(exc).__name__
