"""Fixtures of the feed tests: the service app with a market and a book (``_feed_service``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _feed_service import Service, service_for


@pytest.fixture
def deribit_service(tmp_path: Path) -> Iterator[Service]:
    yield from service_for(tmp_path, "deribit", market_read=True)


@pytest.fixture
def okx_service(tmp_path: Path) -> Iterator[Service]:
    yield from service_for(tmp_path, "okx", market_read=True)


@pytest.fixture
def bare_service(tmp_path: Path) -> Iterator[Service]:
    """A service without ``GET /v1/market`` (an older one): a feed must be told the underlyings."""
    yield from service_for(tmp_path, "deribit", market_read=False)
