"""Operator commands against a database that is missing, stopped or not migrated: one line on stderr naming
the cause, exit status 2, no traceback (unless ``--debug``), never the URL's password. Each command runs as a
real process, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_ADMIN_URL, TEST_SECRET, fresh_postgres_database

PASSWORD = "pg-secret-pass-w0rd"
# Port 1 on loopback: nothing listens, so a connection is refused at once (a stopped database).
STOPPED = f"postgresql+asyncpg://tally:{PASSWORD}@127.0.0.1:1/tally"
MISSING = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/tally_no_such_database"


def tally(database_url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    environ.update(TALLY_DATABASE_URL=database_url, TALLY_JWT_SECRET=TEST_SECRET)
    command = [sys.executable, "-m", "tally.cli", *args]
    return subprocess.run(command, env=environ, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def failed_with_one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tally: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert PASSWORD not in result.stderr + result.stdout
    return lines[0]


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text('{"features": [{"feature_key": "api_calls", "unit": "requests"}]}')
    return path


@pytest.fixture(params=["migrate", "features load", "serve"])
def command(request: pytest.FixtureRequest, catalog: Path) -> list[str]:
    return [*request.param.split(), str(catalog)] if request.param == "features load" else request.param.split()


@pytest.mark.parametrize(("url", "cause"), [(STOPPED, "Connect call failed"), (MISSING, "does not exist")])
def test_an_unreachable_database_is_one_line(command: list[str], url: str, cause: str) -> None:
    line = failed_with_one_line(tally(url, *command), "cannot use the database", cause)
    assert url.split("@")[-1] in line


def test_debug_shows_the_traceback() -> None:
    result = tally(STOPPED, "--debug", "migrate")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


@pytest.fixture
def unmigrated_postgres() -> Iterator[str]:
    with fresh_postgres_database("tally_cli", migrate=False) as url:
        yield url


@pytest.mark.parametrize("command", [["serve"], ["features", "load", "CATALOG"]])
def test_an_unmigrated_database_is_refused(unmigrated_postgres: str, catalog: Path, command: list[str]) -> None:
    args = [str(catalog) if arg == "CATALOG" else arg for arg in command]
    failed_with_one_line(tally(unmigrated_postgres, *args), "has no Tally schema", "tally migrate")
    assert tally(unmigrated_postgres, "migrate").returncode == 0
    if command[0] == "features":
        assert tally(unmigrated_postgres, *args).stdout == "created api_calls (requests, sum)\n"


def test_serve_does_not_create_an_empty_sqlite_file(tmp_path: Path) -> None:
    """As with a misspelled TALLY_DATABASE_URL: the default ./tally.db does not exist yet."""
    line = failed_with_one_line(tally("sqlite+aiosqlite:///./tally.db", "serve", cwd=tmp_path), "does not exist")
    assert "TALLY_DATABASE_URL" in line
    assert not (tmp_path / "tally.db").exists()
