"""Fixtures of the integration tests that more than one file uses: apps whose webhook delivery task is off, or
polls and retries quickly."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tally.app import create_app
from tally.config import Settings
from tests.conftest import TEST_SECRET, clear


async def app_client(database_url: str, **settings: Any) -> AsyncIterator[AsyncTestClient[Litestar]]:
    await clear(database_url)
    app = create_app(
        Settings(database_url=database_url, jwt_secret=TEST_SECRET, webhook_allow_private=True, **settings)
    )
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
async def outbox_client(database_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An app that records alerts but sends nothing: the outbox's rows are what is checked."""
    async for client in app_client(database_url, webhook_delivery_enabled=False):
        yield client


@pytest.fixture
async def sending_client(database_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An app whose delivery task polls and retries quickly."""
    async for client in app_client(database_url, webhook_poll_seconds=0.05, webhook_retry_base_seconds=0.05):
        yield client
