"""Alembic migrations of the service's store (run by :func:`pmargin.service.open_store`)."""
