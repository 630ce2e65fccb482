"""Which session the read routes get, decided when the app is built (no database is reached here)."""

from __future__ import annotations

import inspect

from tally.app import create_app
from tally.config import Settings
from tests.conftest import TEST_SECRET

PRIMARY = "postgresql+asyncpg://tally@db.internal/tally"


def provider_parameters(settings: Settings) -> tuple[set[str], set[str]]:
    """The app-level dependencies, and what the read routes' ``usage`` provider asks for."""
    app = create_app(settings)
    return set(app.dependencies), set(inspect.signature(app.dependencies["usage"].dependency).parameters)


def test_without_a_read_url_the_reads_take_the_primarys_session_directly() -> None:
    # No dependency level of its own: the reader stands on db_session, as the recorder does.
    dependencies, asks = provider_parameters(Settings(database_url=PRIMARY, jwt_secret=TEST_SECRET))
    assert "read_session" not in dependencies
    assert asks == {"db_session", "state"}


def test_with_a_read_url_the_reads_take_the_read_session() -> None:
    settings = Settings(
        database_url=PRIMARY,
        database_read_url="postgresql+asyncpg://tally@standby.internal/tally",
        jwt_secret=TEST_SECRET,
    )
    dependencies, asks = provider_parameters(settings)
    assert "read_session" in dependencies
    assert asks == {"read_session", "state"}
