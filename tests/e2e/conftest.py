"""A real server process (uvicorn) on a free port, talked to over HTTP through the generated client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tally.cli.serve import WORKER_HEALTHCHECK_SECONDS
from tally.db.migrate import upgrade
from tests.conftest import TEST_SECRET, free_port, in_thread
from tests.e2e.preloaded import ForkedServer, fork_server

SERVER_LOGS: set[Path] = set()
"""Every server log of this session: each server writes its output there, not into pytest's; a failed test shows
the end of the logs written while it ran (``pytest_runtest_makereport``)."""
LOG_TAIL_LINES = 100
TEST_STARTED = pytest.StashKey[float]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if call.when == "setup":
        item.stash[TEST_STARTED] = call.start
    if not report.failed:
        return
    since = item.stash.get(TEST_STARTED, call.start)
    for log in sorted(SERVER_LOGS):
        if log.is_file() and log.stat().st_mtime >= since:
            tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
            report.sections.append((f"server log {log} (last {len(tail)} lines)", "\n".join(tail)))


def started(log: Path, since: int) -> int:
    """How many server processes have logged, after byte ``since`` of ``log``, that their application started."""
    with log.open("rb") as lines:
        lines.seek(since)
        return lines.read().count(b"Application startup complete.")


def start_server(
    database_url: str, log: Path, *, workers: int = 1, tally_serve: bool = False, port: int | None = None, **env: str
) -> tuple[subprocess.Popen[bytes] | ForkedServer, str]:
    """Start ``uvicorn --factory tally.app:create_app`` (or ``tally serve`` when ``tally_serve``; with
    ``--workers`` when more than one) on ``port`` (default: a free one) and return the process and its base URL
    once it answers. A single-worker uvicorn is forked from a process that has imported the app already
    (``tests/e2e/preloaded.py``); the others start as a new interpreter."""
    port = port or free_port()
    environ = {**os.environ, "TALLY_DATABASE_URL": database_url, "TALLY_JWT_SECRET": TEST_SECRET, **env}
    if tally_serve:
        command = [sys.executable, "-m", "tally.cli", "serve", "--host", "127.0.0.1"]
    else:
        command = [sys.executable, "-m", "uvicorn", "--factory", "tally.app:create_app", "--host", "127.0.0.1"]
    if workers > 1 or tally_serve:  # tally serve's own default is one worker per core
        command += ["--workers", str(workers)]
    if workers > 1 and not tally_serve:
        # The health check time `tally serve` gives its workers (uvicorn's 5 s killed workers still importing beside
        # the suite's other tests).
        command += ["--timeout-worker-healthcheck", str(WORKER_HEALTHCHECK_SECONDS)]
    since = log.stat().st_size if log.exists() else 0
    SERVER_LOGS.add(log)
    process: subprocess.Popen[bytes] | ForkedServer
    if not tally_serve and workers == 1 and "PROMETHEUS_MULTIPROC_DIR" not in environ:
        process = fork_server([*command[3:], "--port", str(port)], environ, str(log))  # uvicorn's own arguments
    else:
        with log.open("ab") as out:
            process = subprocess.Popen(
                [*command, "--port", str(port)], env=environ, stdout=out, stderr=subprocess.STDOUT
            )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
            try:
                # Every worker up, not only the first to answer: a test that spreads requests over the workers
                # would otherwise find the first one answering alone while the others still start.
                if (
                    httpx.get(f"{base_url}/health/live", timeout=1).status_code == 200
                    and started(log, since) >= workers
                ):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log.read_text()}")
            time.sleep(0.1)
    except BaseException:
        stop_server(process)
        raise
    return process, base_url


def stop_server(process: subprocess.Popen[bytes] | ForkedServer, timeout: float = 15) -> int:
    """SIGTERM, as an orchestrator stops a server; kill it if it has not exited within ``timeout`` seconds.
    Returns the exit code (negative: killed by that signal)."""
    process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@contextmanager
def running_server(
    database_url: str, log: Path, *, workers: int = 1, tally_serve: bool = False, port: int | None = None, **env: str
) -> Iterator[str]:
    """A server (see ``start_server``) for the duration of the block, stopped with SIGTERM afterwards."""
    process, base_url = start_server(database_url, log, workers=workers, tally_serve=tally_serve, port=port, **env)
    try:
        yield base_url
    finally:
        stop_server(process)


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[str]:
    """A server on a fresh, migrated embedded database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    in_thread(upgrade, url)
    with running_server(url, tmp_path / "server.log") as base_url:
        yield base_url


@pytest.fixture(params=["postgres", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database of each kind in turn: a PostgreSQL database of its own, then an embedded file."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_database"))
    url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    in_thread(upgrade, url)
    return url


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of its own, dropped afterwards."""
    from tests.conftest import fresh_postgres_database

    with fresh_postgres_database("tally_e2e") as url:
        yield url
