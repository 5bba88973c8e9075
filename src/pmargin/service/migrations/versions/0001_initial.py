"""The first schema: accounts, balances, positions, fills, events, keys, idempotency, market.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_DECIMAL = sa.String(64)


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("created_seq", sa.Integer, nullable=False),
    )
    op.create_table(
        "balances",
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("asset", sa.String(32), primary_key=True),
        sa.Column("amount", _DECIMAL, nullable=False),
    )
    op.create_table(
        "positions",
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("instrument", sa.String(128), primary_key=True),
        sa.Column("quantity", _DECIMAL, nullable=False),
        sa.Column("avg_price", _DECIMAL, nullable=True),
    )
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(128), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("instrument", sa.String(128), nullable=False),
        sa.Column("quantity", _DECIMAL, nullable=False),
        sa.Column("price", _DECIMAL, nullable=False),
        sa.Column("fee", _DECIMAL, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
    )
    op.create_index("ix_fills_account_id", "fills", ["account_id"])
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=True),
        sa.Column("time", sa.String(40), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_events_account_id", "events", ["account_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("account_id", sa.String(128), nullable=True),
        sa.Column("secret_hash", sa.String(256), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
    )
    op.create_table(
        "idempotency",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("request", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "market",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    """Drop every table of the first schema."""
    for table in (
        "market",
        "idempotency",
        "api_keys",
        "events",
        "fills",
        "positions",
        "balances",
        "accounts",
    ):
        op.drop_table(table)
