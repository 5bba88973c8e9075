"""The store's Alembic revisions, oldest first (each frozen once released)."""
