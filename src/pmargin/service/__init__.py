"""``pmargin serve``: the margin engine as a running service over a durable ledger.

- ``_store``: open and migrate the database (:func:`open_store`, Alembic revisions in
  ``migrations/``);
- ``_tables``: the SQLAlchemy models; ``_ledger``: the writes, their events and the rebuild;
- ``_keys``: API keys (:func:`create_key`, Argon2id hashes); ``_schemas``: request bodies;
- ``_app``: the FastAPI application (:func:`create_app`); ``_dashboard_api``: the dashboard's
  page and reads; ``_demo``: ``serve --demo`` (:func:`load_demo`, :class:`TickPlayer`).

See docs/service.md.
"""

from pmargin.service._app import MAX_BODY_BYTES, create_app
from pmargin.service._demo import DemoKeys, TickPlayer, load_demo
from pmargin.service._keys import ROLES, check_key_request, create_key
from pmargin.service._store import DEFAULT_DB, StoreError, open_store, schema_revision

__all__ = [
    "DEFAULT_DB",
    "MAX_BODY_BYTES",
    "ROLES",
    "DemoKeys",
    "StoreError",
    "TickPlayer",
    "check_key_request",
    "create_app",
    "create_key",
    "load_demo",
    "open_store",
    "schema_revision",
]
