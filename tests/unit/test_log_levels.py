"""TALLY_LOG_LEVEL holds for every logger the app configures, uvicorn's access log included."""

from __future__ import annotations

import logging

from tally.app import create_app
from tally.config import Settings
from tests.conftest import TEST_SECRET


def test_warning_level_silences_the_access_logs() -> None:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", jwt_secret=TEST_SECRET, log_level="WARNING"))
    app.logging_config.configure()  # as Litestar does again at start-up, after setting its own logger's level
    for name in ("uvicorn", "uvicorn.access", "tally.access"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
