"""The ``tally`` command's settings-related subcommands, run in-process through ``main(argv)``."""

from __future__ import annotations

import jwt
import pytest

from tally.cli import main
from tally.config import ConfigError, Settings

SECRET = "current-secret-0123456789-0123456789-abcd"
PREVIOUS = "previous-secret-0123456789-0123456789-abc"
PASSWORD = "pg-pass-w0rd"


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process environment with no TALLY_* variable but the ones each test sets."""
    for name in Settings.__struct_fields__:
        monkeypatch.delenv(f"TALLY_{name.upper()}", raising=False)
    monkeypatch.setenv("TALLY_JWT_SECRET", SECRET)
    monkeypatch.setenv("TALLY_JWT_PREVIOUS_SECRET", PREVIOUS)
    monkeypatch.setenv("TALLY_JWT_PREVIOUS_SECRET_UNTIL", "2030-01-01T00:00:00Z")
    monkeypatch.setenv("TALLY_DATABASE_URL", f"postgresql+asyncpg://tally:{PASSWORD}@db.internal:5432/tally")
    return monkeypatch


def test_config_prints_every_setting_with_secrets_masked(environ, capsys: pytest.CaptureFixture[str]) -> None:
    environ.setenv("TALLY_METRICS_PORT", "9100")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    for secret in (SECRET, PREVIOUS, PASSWORD):
        assert secret not in out
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert set(lines) == {f"TALLY_{name.upper()}" for name in Settings.__struct_fields__}
    assert lines["TALLY_JWT_SECRET"] == lines["TALLY_JWT_PREVIOUS_SECRET"] == "********"
    assert lines["TALLY_DATABASE_URL"] == "postgresql+asyncpg://tally:********@db.internal:5432/tally"
    assert lines["TALLY_JWT_PREVIOUS_SECRET_UNTIL"] == "2030-01-01T00:00:00Z"
    assert lines["TALLY_METRICS_ENABLED"] == "true"
    assert lines["TALLY_METRICS_PORT"] == "9100"
    assert lines["TALLY_CATALOG_FILE"] == ""  # unset


def test_config_names_a_bad_variable(environ, capsys: pytest.CaptureFixture[str]) -> None:
    environ.setenv("TALLY_JWT_PREVIOUS_SECRET_UNTIL", "next tuesday")
    assert main(["config"]) == 2
    captured = capsys.readouterr()
    assert "TALLY_JWT_PREVIOUS_SECRET_UNTIL" in captured.err
    assert captured.out == ""


def test_token_is_signed_with_the_current_secret_while_rotating(environ, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--role", "platform"]) == 0
    token = capsys.readouterr().out.strip()
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["role"] == "platform"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, PREVIOUS, algorithms=["HS256"])


def one_line(text: str) -> str:
    """``text`` is exactly one line (no traceback, no usage block); returns it."""
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


@pytest.mark.parametrize("command", [["config"], ["serve"]])
@pytest.mark.parametrize(
    ("variable", "value"),
    [("TALLY_LOG_LEVEL", "LOUD"), ("TALLY_CATALOG_FILE", "/nonexistent.json"), ("TALLY_DB_POOL_SIZE", "0")],
)
def test_config_catches_what_serve_would_crash_on(
    environ, capsys: pytest.CaptureFixture[str], command: list[str], variable: str, value: str
) -> None:
    environ.setenv(variable, value)
    assert main(command) == 2
    captured = capsys.readouterr()
    assert variable in one_line(captured.err)
    assert captured.out == ""


def test_a_bad_catalog_file_is_named(environ, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text('{"features": [{"feature_key": "api_calls"}]}')  # no unit
    environ.setenv("TALLY_CATALOG_FILE", str(catalog))
    assert main(["config"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "TALLY_CATALOG_FILE" in line
    assert "unit" in line


def test_config_warns_about_unknown_tally_variables(environ, capsys: pytest.CaptureFixture[str]) -> None:
    environ.setenv("TALLY_DATABSE_URL", "postgresql+asyncpg://elsewhere/tally")
    environ.setenv("TALLY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1/postgres")  # the tests' own
    assert main(["config"]) == 0
    captured = capsys.readouterr()
    warning = one_line(captured.err)
    assert "TALLY_DATABSE_URL" in warning
    assert "did you mean TALLY_DATABASE_URL?" in warning
    assert "TALLY_DATABASE_URL=" in captured.out


@pytest.mark.parametrize("ttl", ["-10", "0", "soon"])
def test_token_refuses_a_lifetime_that_is_not_positive(environ, capsys: pytest.CaptureFixture[str], ttl: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "platform", "--ttl", ttl])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert "--ttl" in one_line(captured.err)
    assert captured.out == ""


def test_token_without_a_secret_or_a_tenant_is_one_line(environ, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--role", "viewer"]) == 2
    assert "--tenant" in one_line(capsys.readouterr().err)
    environ.delenv("TALLY_JWT_SECRET")
    assert main(["token", "--role", "platform"]) == 2
    assert "TALLY_JWT_SECRET" in one_line(capsys.readouterr().err)


def test_debug_shows_the_traceback(environ) -> None:
    environ.setenv("TALLY_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError, match="TALLY_LOG_LEVEL"):
        main(["--debug", "config"])
