"""API keys: created once, shown once, only a salted slow hash stored (Argon2id).

A key reads ``pmk_<id>_<secret>``: ``id`` (12 hex digits) finds the row, ``secret`` (32 random
bytes, URL-safe base64) is checked against its Argon2id hash (``argon2-cffi``, its default
parameters). A verified key is remembered in the process by the SHA-256 of the whole key, so
that Argon2's cost is paid once per key and process, not once per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pmargin.errors import InputError
from pmargin.service._tables import ApiKeyRow

__all__ = ["ROLES", "KeyRing", "Principal", "check_key_request", "create_key"]

ROLES = ("admin", "trader", "feed")
"""admin: everything; trader: its one account; feed: market data."""

_PREFIX = "pmk"
_HASHER = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from: the key's id, its role and (trader) its account."""

    key_id: str
    role: str
    account_id: str | None


def check_key_request(role: str, account_id: str | None) -> None:
    """Check a key's role and account before anything is opened.

    Raises
    ------
    InputError
        An unknown role, a trader without an account, an account on another role.
    """
    if role not in ROLES:
        raise InputError("--role", role, f"is not one of {'|'.join(ROLES)}")
    if (role == "trader") != (account_id is not None):
        reason = "is required for a trader key" if role == "trader" else "is for trader keys only"
        raise InputError("--account", account_id, reason)


def create_key(engine: Engine, role: str, account_id: str | None = None) -> str:
    """Create a key, store its hash and return the key (the only time it is shown).

    Parameters
    ----------
    engine
        The store (migrated).
    role
        ``admin``, ``trader`` (needs ``account_id``) or ``feed``.
    account_id
        The one account a trader key sees; only for traders.

    Raises
    ------
    InputError
        An unknown role, a trader without an account, an account on another role.
    """
    check_key_request(role, account_id)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with Session(engine) as session, session.begin():
        session.add(
            ApiKeyRow(
                id=key_id,
                role=role,
                account_id=account_id,
                secret_hash=_HASHER.hash(secret),
                created=datetime.now(UTC).isoformat(),
            )
        )
    return f"{_PREFIX}_{key_id}_{secret}"


class KeyRing:
    """Checks ``Bearer`` keys against the store, remembering the ones it verified."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._verified: dict[str, tuple[bytes, Principal]] = {}
        self._lock = threading.Lock()

    def principal(self, token: str) -> Principal | None:
        """Return the key's principal, or None for a key that is malformed, unknown or wrong."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != _PREFIX:
            return None
        _, key_id, secret = parts
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            known = self._verified.get(key_id)
        if known is not None:
            return known[1] if hmac.compare_digest(known[0], digest) else None
        with Session(self._engine) as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                return None
            stored, found = row.secret_hash, Principal(row.id, row.role, row.account_id)
        try:
            _HASHER.verify(stored, secret)
        except (VerificationError, InvalidHashError):
            return None
        with self._lock:
            self._verified[key_id] = (digest, found)
        return found
