"""The ``tally`` command's settings-related subcommands, run in-process through ``main(argv)``."""

from __future__ import annotations

import jwt
import pytest

from tally.cli import main
from tally.config import Settings

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
