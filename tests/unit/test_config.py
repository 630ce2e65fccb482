"""Settings read from the environment: every problem names the variable at fault."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tally.config import DEFAULT_DATABASE_URL, ConfigError, Settings

SECRET = "s" * 32
POSTGRES = "postgresql+asyncpg://tally@db:5432/tally"
PREVIOUS = "p" * 32


def test_defaults_with_only_a_secret() -> None:
    settings = Settings.from_env({"TALLY_JWT_SECRET": SECRET})
    assert settings == Settings(jwt_secret=SECRET)
    assert settings.database_url == DEFAULT_DATABASE_URL


def test_missing_secret_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="TALLY_JWT_SECRET"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("environ", "require_secret"),
    [
        pytest.param({"TALLY_DEMO": "true"}, True, id="demo"),
        pytest.param({}, False, id="not-required"),
    ],
)
def test_secret_not_needed_in_demo_or_when_not_required(environ: dict[str, str], require_secret: bool) -> None:
    assert Settings.from_env(environ, require_secret=require_secret).jwt_secret is None


def test_empty_variable_counts_as_unset() -> None:
    with pytest.raises(ConfigError, match="TALLY_JWT_SECRET"):
        Settings.from_env({"TALLY_JWT_SECRET": ""})
    assert Settings.from_env({"TALLY_JWT_SECRET": SECRET, "TALLY_MAX_BODY_BYTES": ""}).max_body_bytes == 1024 * 1024


def test_variables_are_converted_from_text() -> None:
    settings = Settings.from_env(
        {
            "TALLY_JWT_SECRET": SECRET,
            "TALLY_DATABASE_URL": POSTGRES,
            "TALLY_MAX_BODY_BYTES": "2048",
            "TALLY_DB_TIMEOUT_SECONDS": "2.5",
            "TALLY_DB_POOL_SIZE": "3",
            "TALLY_RETRY_AFTER_SECONDS": "9",
            "TALLY_FUTURE_SKEW_SECONDS": "0",
            "TALLY_CATALOG_FILE": "catalog.toml",
            "TALLY_JWT_PREVIOUS_SECRET": PREVIOUS,
            "TALLY_JWT_PREVIOUS_SECRET_UNTIL": "2026-12-01T01:00:00+01:00",
            "TALLY_METRICS_ENABLED": "false",
            "TALLY_METRICS_PORT": "9100",
        }
    )
    assert (settings.database_url, settings.max_body_bytes, settings.db_timeout_seconds) == (POSTGRES, 2048, 2.5)
    assert (settings.db_pool_size, settings.retry_after_seconds, settings.future_skew_seconds) == (3, 9, 0)
    assert settings.catalog_file == "catalog.toml"
    assert settings.jwt_previous_secret == PREVIOUS
    assert settings.jwt_previous_secret_until == datetime(2026, 12, 1, tzinfo=UTC)
    assert (settings.metrics_enabled, settings.metrics_port) == (False, 9100)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TALLY_MAX_BODY_BYTES", "lots"),
        ("TALLY_MAX_BODY_BYTES", "1.5"),
        ("TALLY_MAX_BODY_BYTES", "100"),
        ("TALLY_DB_POOL_SIZE", "0"),
        ("TALLY_RETRY_AFTER_SECONDS", "soon"),
        ("TALLY_FUTURE_SKEW_SECONDS", "-1"),
        ("TALLY_DB_TIMEOUT_SECONDS", "0"),
        ("TALLY_DEMO", "perhaps"),
        ("TALLY_JWT_SECRET", "too-short"),
    ],
)
def test_bad_value_names_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({"TALLY_JWT_SECRET": SECRET, variable: value})


@pytest.mark.parametrize(
    "url",
    ["mysql+aiomysql://tally@db/tally", "postgresql+psycopg://tally@db/tally", "sqlite:///./tally.db", "tally.db"],
)
def test_database_url_scheme_is_checked(url: str) -> None:
    with pytest.raises(ConfigError, match=r"TALLY_DATABASE_URL must start with one of .*postgres://"):
        Settings.from_env({"TALLY_JWT_SECRET": SECRET, "TALLY_DATABASE_URL": url})


@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
def test_a_plain_postgresql_url_means_asyncpg(scheme: str) -> None:
    """What hosting platforms hand out (``postgres://user:pw@host/db``) works as it is."""
    environ = {
        "TALLY_JWT_SECRET": SECRET,
        "TALLY_DATABASE_URL": f"{scheme}tally:pw@db/tally",
        "TALLY_DATABASE_READ_URL": f"{scheme}tally:pw@standby/tally",
    }
    settings = Settings.from_env(environ)
    assert settings.database_url == "postgresql+asyncpg://tally:pw@db/tally"
    assert settings.database_read_url == "postgresql+asyncpg://tally:pw@standby/tally"


def test_overrides_win_over_the_environment() -> None:
    environ = {"TALLY_JWT_SECRET": SECRET, "TALLY_MAX_BODY_BYTES": "2048", "TALLY_DATABASE_URL": POSTGRES}
    settings = Settings.from_env(environ, max_body_bytes=4096, demo=True)
    assert (settings.max_body_bytes, settings.demo, settings.database_url) == (4096, True, POSTGRES)


def test_none_override_keeps_the_environment_value() -> None:
    environ = {"TALLY_JWT_SECRET": SECRET, "TALLY_DATABASE_URL": POSTGRES}
    assert Settings.from_env(environ, database_url=None).database_url == POSTGRES


def test_bad_override_is_refused() -> None:
    with pytest.raises(ConfigError, match="TALLY_DB_POOL_SIZE"):
        Settings.from_env({"TALLY_JWT_SECRET": SECRET}, db_pool_size=0)
    with pytest.raises(ConfigError, match="TALLY_DATABASE_URL"):
        Settings.from_env({"TALLY_JWT_SECRET": SECRET}, database_url="mysql://x")


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_JWT_SECRET", SECRET)
    monkeypatch.setenv("TALLY_RETRY_AFTER_SECONDS", "11")
    assert Settings.from_env().retry_after_seconds == 11


def test_masked_hides_the_secret() -> None:
    shown = Settings.from_env({"TALLY_JWT_SECRET": SECRET}).masked()
    assert SECRET not in str(shown)
    assert shown["jwt_secret"] == "********"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TALLY_JWT_PREVIOUS_SECRET_UNTIL", "2026-12-01T00:00:00"),  # no offset: not an instant
        ("TALLY_JWT_PREVIOUS_SECRET_UNTIL", "soon"),
        ("TALLY_JWT_PREVIOUS_SECRET", "short"),
        ("TALLY_METRICS_PORT", "0"),
        ("TALLY_METRICS_PORT", "65536"),
        ("TALLY_METRICS_ENABLED", "perhaps"),
    ],
)
def test_bad_new_value_names_the_variable(variable: str, value: str) -> None:
    environ = {
        "TALLY_JWT_SECRET": SECRET,
        "TALLY_JWT_PREVIOUS_SECRET": PREVIOUS,
        "TALLY_JWT_PREVIOUS_SECRET_UNTIL": "2026-12-01T00:00:00Z",
    }
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({**environ, variable: value})


@pytest.mark.parametrize("given", ["TALLY_JWT_PREVIOUS_SECRET", "TALLY_JWT_PREVIOUS_SECRET_UNTIL"])
def test_previous_secret_and_its_end_go_together(given: str) -> None:
    value = PREVIOUS if given == "TALLY_JWT_PREVIOUS_SECRET" else "2026-12-01T00:00:00Z"
    with pytest.raises(ConfigError, match="TALLY_JWT_PREVIOUS_SECRET and TALLY_JWT_PREVIOUS_SECRET_UNTIL"):
        Settings.from_env({"TALLY_JWT_SECRET": SECRET, given: value})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+asyncpg://tally:hunter2@db:5432/tally", "postgresql+asyncpg://tally:********@db:5432/tally"),
        ("postgresql+asyncpg://tally@db/tally", "postgresql+asyncpg://tally@db/tally"),
        ("sqlite+aiosqlite:///./tally.db", "sqlite+aiosqlite:///./tally.db"),
    ],
)
def test_masked_hides_the_database_password(url: str, shown: str) -> None:
    masked = Settings(database_url=url, jwt_secret=SECRET, jwt_previous_secret=PREVIOUS).masked()
    assert masked["database_url"] == shown
    assert masked["jwt_previous_secret"] == "********"


def test_a_webhook_lease_shorter_than_the_timeout_is_refused() -> None:
    environ = {"TALLY_JWT_SECRET": SECRET, "TALLY_WEBHOOK_TIMEOUT_SECONDS": "5"}
    assert Settings.from_env({**environ, "TALLY_WEBHOOK_LEASE_SECONDS": "6"}).webhook_lease_seconds == 6
    with pytest.raises(ConfigError, match="TALLY_WEBHOOK_LEASE_SECONDS"):
        Settings.from_env({**environ, "TALLY_WEBHOOK_LEASE_SECONDS": "5"})
