"""`tally usage export`, run in-process through ``main(argv)`` (and once on a terminal) on a real database: the
same CSV as the API's, a progress bar only on a terminal, one-line errors, no half-written file."""

from __future__ import annotations

import logging
import os
import pty
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tally.cli import main
from tests.conftest import PLATFORM, clear, events_url, in_thread, put_features, record, totals_url

pytestmark = pytest.mark.anyio

TENANT = uuid.UUID("7a2d0c1e-0000-4000-8000-000000000001")
PERIOD = ["--period-start", "2026-11-01T00:00:00Z", "--period-end", "2026-12-01T00:00:00Z"]
NOV = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z"}
CSV = {**PLATFORM, "Accept": "text/csv"}


@pytest.fixture
async def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    await clear(database_url)
    monkeypatch.setenv("TALLY_DATABASE_URL", database_url)
    monkeypatch.setenv("TALLY_EXPORT_PAGE_SIZE", "2")  # several pages from a few events
    monkeypatch.delenv("TALLY_JWT_SECRET", raising=False)  # an export needs no secret
    return database_url


async def some_usage(client) -> None:
    await put_features(client, "api_calls", "llm_tokens")
    await record(
        client,
        TENANT,
        *(
            {"feature_key": f, "quantity": i, "idempotency_key": f"{f}-{i}", "timestamp": f"2026-11-0{i}T10:00:00Z"}
            for i in range(1, 6)
            for f in ("api_calls", "llm_tokens")
        ),
        {"feature_key": "api_calls", "quantity": 1, "idempotency_key": "dec", "timestamp": "2026-12-01T00:00:00Z"},
    )


def settled(capsys: pytest.CaptureFixture[str]) -> None:
    """Write out the access log's pending lines (its thread writes them in batches) and drop what was captured,
    so that what a test reads next is the command's own output."""
    for handler in logging.getLogger("tally.access").handlers:
        handler.flush()
    capsys.readouterr()


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def exit_status(argv: list[str]) -> int:
    """``main``'s exit status, also for a usage error (argparse exits)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


async def test_export_writes_the_apis_csv(database: str, client, tmp_path: Path, capsys) -> None:
    await some_usage(client)
    settled(capsys)
    totals, events = tmp_path / "totals.csv", tmp_path / "events.csv"
    assert in_thread(main, ["usage", "export", "--tenant", str(TENANT), *PERIOD, str(totals)]) == 0
    assert in_thread(main, ["usage", "export", "--tenant", str(TENANT), *PERIOD, "--events", str(events)]) == 0
    out, err = capsys.readouterr()
    period = "[2026-11-01T00:00:00Z, 2026-12-01T00:00:00Z) (UTC)"
    assert out.splitlines() == [f"wrote 2 totals of {period} to {totals}", f"wrote 10 events of {period} to {events}"]
    assert err == ""  # not a terminal: no progress bar
    assert totals.read_bytes() == (await client.get(totals_url(TENANT), params=NOV, headers=CSV)).content
    assert events.read_bytes() == (await client.get(events_url(TENANT), params=NOV, headers=CSV)).content
    assert len(events.read_bytes().splitlines()) == 11
    assert files(tmp_path) == ["events.csv", "totals.csv"]


async def test_errors_are_one_line_and_leave_no_file(database: str, tmp_path: Path, capsys, monkeypatch) -> None:
    settled(capsys)  # an earlier test's access lines may still be on their way to stderr
    target = tmp_path / "out.csv"
    target.write_text("the previous export\n")
    reversed_period = ["--period-start", "2026-12-01T00:00:00Z", "--period-end", "2026-11-01T00:00:00Z"]
    cases = [
        (["--tenant", str(TENANT), *reversed_period, str(target)], "period_end"),
        (["--tenant", "not-a-uuid", *PERIOD, str(target)], "--tenant"),
        (["--tenant", str(TENANT), "--period-start", "yesterday", "--period-end", "x", str(target)], "yesterday"),
        # a time of day without an offset names no instant: refused, as the API refuses it
        (["--tenant", str(TENANT), "--period-start", "2026-11-01T00:00", *PERIOD[2:], str(target)], "append Z"),
        (["--tenant", str(TENANT), *PERIOD, str(tmp_path / "missing" / "out.csv")], "cannot write"),
    ]
    for argv, named in cases:
        assert in_thread(exit_status, ["usage", "export", *argv]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert named in err
    monkeypatch.setenv("TALLY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'nowhere.db'}")
    assert in_thread(main, ["usage", "export", "--tenant", str(TENANT), *PERIOD, "--events", str(target)]) == 2
    assert "nowhere.db" in capsys.readouterr().err
    assert target.read_text() == "the previous export\n"
    assert files(tmp_path) == ["out.csv"]


async def test_a_bare_date_is_midnight_in_the_tenants_zone(database: str, client, tmp_path: Path, capsys) -> None:
    await some_usage(client)
    plan = {"name": "Zoned", "limits": []}
    assert (await client.put("/api/v1/billing/plans/zoned", json=plan, headers=PLATFORM)).status_code == 201
    zoned = {"plan_key": "zoned", "timezone": "America/New_York"}
    assert (await client.put(f"/api/v1/billing/tenants/{TENANT}/plan", json=zoned, headers=PLATFORM)).status_code == 200
    settled(capsys)
    target = tmp_path / "totals.csv"
    argv = ["usage", "export", "--tenant", str(TENANT), "--period-start", "2026-11-01", "--period-end", "2026-12-01"]
    assert in_thread(main, [*argv, str(target)]) == 0
    local = "[2026-11-01T00:00:00-04:00, 2026-12-01T00:00:00-05:00) (America/New_York)"
    assert capsys.readouterr().out == f"wrote 2 totals of {local} to {target}\n"
    new_york = {"period_start": "2026-11-01T04:00:00Z", "period_end": "2026-12-01T05:00:00Z"}
    assert target.read_bytes() == (await client.get(totals_url(TENANT), params=new_york, headers=CSV)).content


async def test_a_terminal_sees_a_progress_bar(database: str, client, tmp_path: Path) -> None:
    await some_usage(client)
    target = tmp_path / "events.csv"
    leader, follower = pty.openpty()
    try:
        result = await in_thread_run(
            [sys.executable, "-m", "tally.cli", "usage", "export", "--tenant", str(TENANT), *PERIOD, "--events"],
            str(target),
            follower,
        )
        os.close(follower)
        follower = -1
        shown = read_all(leader)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert result.returncode == 0, shown
    assert result.stdout == f"wrote 10 events of [2026-11-01T00:00:00Z, 2026-12-01T00:00:00Z) (UTC) to {target}\n"
    assert "\r[" in shown
    states = [state.strip() for state in shown.split("\r[")[1:]]
    assert len(states) == 6  # one per page of two events, and the end
    assert states[0] == f"{'.' * 30}]   1% 2 events"  # 2 Nov 10:00 is 1% through November
    assert states[-2] == f"####{'.' * 26}]  15% 10 events"
    assert states[-1] == f"{'#' * 30}] 100% 10 events"


async def in_thread_run(command: list[str], target: str, stderr: int) -> subprocess.CompletedProcess[str]:
    return in_thread(  # type: ignore[no-any-return]
        lambda: subprocess.run(
            [*command, target], stderr=stderr, stdout=subprocess.PIPE, text=True, env=os.environ, check=False
        )
    )


def read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the follower end is closed: everything was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()
