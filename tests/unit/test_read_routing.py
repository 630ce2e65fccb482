"""Which connections the read routes get, decided when the app is built (no database is reached here)."""

from __future__ import annotations

import inspect
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tally.app import create_app
from tally.config import Settings
from tally.db.replica import ReadReplica
from tally.usage.reading import READ_CONNECTION
from tests.conftest import TEST_SECRET

PRIMARY = "postgresql+asyncpg://tally@db.internal/tally"


def reads_connect(settings: Settings) -> tuple[set[str], Any]:
    """What the read routes' ``usage`` provider asks for, and where the read routes (the provider, and the hot reads
    that enter ``reading`` themselves) take their one connection from."""
    app = create_app(settings)
    provider = app.dependencies["usage"].dependency
    return set(inspect.signature(provider).parameters), app.state[READ_CONNECTION]


def test_without_a_read_url_the_reads_take_a_connection_of_the_primary() -> None:
    # No session and no dependency level beneath the reader: it takes its connection from the primary's pool.
    asks, connect = reads_connect(Settings(database_url=PRIMARY, jwt_secret=TEST_SECRET))
    assert asks == {"state"}
    (engine,) = connect.args  # the dialect's connect(engine)
    assert isinstance(engine, AsyncEngine)
    assert engine.url.host == "db.internal"


def test_with_a_read_url_the_reads_take_a_connection_of_the_read_replica() -> None:
    settings = Settings(
        database_url=PRIMARY,
        database_read_url="postgresql+asyncpg://tally@standby.internal/tally",
        jwt_secret=TEST_SECRET,
    )
    asks, connect = reads_connect(settings)
    assert asks == {"state"}
    assert isinstance(connect.__self__, ReadReplica)
    assert connect.__self__.engine.url.host == "standby.internal"
