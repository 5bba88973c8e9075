"""The store's tables (SQLAlchemy 2 declarative models): one home for the schema in code.

Money and quantities are :class:`~decimal.Decimal` stored as canonical text
(:class:`ExactDecimal`): SQLite has no exact numeric type, and text keeps every digit on
both databases. The Alembic revisions under ``migrations/versions`` create the same tables;
``tests/service/test_store.py`` checks that the migrated schema and these models agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "AccountRow",
    "ApiKeyRow",
    "BalanceRow",
    "Base",
    "EventRow",
    "ExactDecimal",
    "FillRow",
    "IdempotencyRow",
    "MarketRow",
    "PositionRow",
]


class ExactDecimal(TypeDecorator[Decimal]):
    """A :class:`~decimal.Decimal` kept as its canonical text (every digit, both databases)."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        """Write the decimal's text (``str(Decimal)``)."""
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Read it back exactly."""
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class AccountRow(Base):
    """An account: its id and the ledger sequence number that created it."""

    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_seq: Mapped[int] = mapped_column(Integer)


class BalanceRow(Base):
    """One asset's balance of one account (asset units, exact; negative = borrowed)."""

    __tablename__ = "balances"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    asset: Mapped[str] = mapped_column(String(32), primary_key=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())


class PositionRow(Base):
    """One open position: signed native units and the average entry price (price currency)."""

    __tablename__ = "positions"
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    instrument: Mapped[str] = mapped_column(String(128), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    avg_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(), nullable=True)


class FillRow(Base):
    """A fill as received (native units, the venue's price, the fee) and its ledger event."""

    __tablename__ = "fills"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(128))
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal())
    price: Mapped[Decimal] = mapped_column(ExactDecimal())
    fee: Mapped[Decimal] = mapped_column(ExactDecimal())
    seq: Mapped[int] = mapped_column(Integer)


class EventRow(Base):
    """The append-only ledger: one row per persisted event, in ``seq`` order (JSON ``data``)."""

    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str | None] = mapped_column(String(128), index=True, nullable=True)
    time: Mapped[str] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text)


class ApiKeyRow(Base):
    """An API key: its public id, role, account (trader keys) and the hash of its secret."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    secret_hash: Mapped[str] = mapped_column(String(256))
    created: Mapped[str] = mapped_column(String(40))


class IdempotencyRow(Base):
    """The first answer to a write with an ``Idempotency-Key``, per key holder and key."""

    __tablename__ = "idempotency"
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)


class MarketRow(Base):
    """The market in force (one row, id 1): the market-file document and its event."""

    __tablename__ = "market"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(Integer)
