"""A real streaming standby of the local PostgreSQL cluster, for the read replica's tests.

``pg_basebackup -R -X stream`` copies the cluster (``TALLY_TEST_POSTGRES_URL``'s server) into a temporary
directory, which ``pg_ctl`` starts on a free port as a hot standby streaming from it: every database of the
cluster, including those the tests create later, is replayed there. PostgreSQL refuses to run as root, so
as root (here and in CI) the commands run as the ``postgres`` OS user. The primary's pg_hba.conf must let
``postgres`` replicate over loopback; as root the harness adds that line when it is missing (``.ci/run`` adds
it too). Without the tools the fixture skips locally, and fails under CI (``CI=true``).
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ADMIN_URL, free_port, in_thread, postgres_unavailable

REPLICATION_RULE = "host replication postgres 127.0.0.1/32 trust"
# Settings a hot standby must have at least as high as its primary's.
AT_LEAST_THE_PRIMARYS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)
CONFIGURATION = """\
listen_addresses = '127.0.0.1'
hot_standby = on
hot_standby_feedback = on
fsync = off
{at_least}
"""
HBA = "local all all trust\nhost all all 127.0.0.1/32 trust\n"
BACKUP_ATTEMPTS = 3
# The standby streams through a replication slot of its own, so the primary keeps every WAL segment it has not
# received yet. Without one, under the whole suite (whose tests write WAL fast), the segment the standby was to
# start from was recycled between the copy's end and the standby's start: it asked for it every 5 s ("requested WAL
# segment … has already been removed" in the primary's log) until the 180 s catch-up bound ran out.
SLOT_PREFIX = "tally_test_standby_"
SLOT = "SELECT FROM pg_replication_slots WHERE slot_name = $1"
DROP_SLOT = (
    "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active"
)
# Inactive slots of this harness (their names end in the pid of the process that made them).
IDLE_SLOTS = "SELECT array_agg(slot_name) FROM pg_replication_slots WHERE starts_with(slot_name, $1) AND NOT active"


def leftover(slot: str) -> bool:
    """Whether an idle slot of this harness is left over: this process's own from a failed copy, or one whose process
    has ended (a run killed before it dropped its own). Another xdist worker's slot is idle too, between its copy and
    its standby's start: dropping it then left that standby asking for a slot that did not exist until the 180 s
    catch-up bound ran out ("replication slot … does not exist" every 5 s in the primary's log, for both workers)."""
    pid = int(slot.removeprefix(SLOT_PREFIX))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


async def drop_leftover_slots(port: int) -> None:
    for slot in await query(port, IDLE_SLOTS, SLOT_PREFIX) or []:
        if leftover(slot):
            await query(port, DROP_SLOT, slot)


def binaries() -> Path | None:
    """The directory of the server's programs (pg_ctl, pg_basebackup), or None when they are not installed."""
    candidates: list[str] = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if directory and all((Path(directory) / name).is_file() for name in ("pg_ctl", "pg_basebackup", "postgres")):
            return Path(directory)
    return None


def as_server_user(command: list[str]) -> list[str]:
    """``command`` as the ``postgres`` OS user when this process is root (PostgreSQL will not run as root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the streaming standby is required under CI: {reason}")
    pytest.skip(f"no streaming standby: {reason}")


async def query(port: int, sql: str, *args: Any, database: str = "postgres") -> Any:
    """The first column of the first row of ``sql`` on the server at ``port`` (the primary's host and user)."""
    primary = make_url(POSTGRES_ADMIN_URL)
    connection = await asyncpg.connect(
        host=primary.host, port=port, user=primary.username, database=database, timeout=10
    )
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()


class Standby:
    """A hot standby of the primary in ``directory``, listening on ``port`` once made and started."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        primary = make_url(POSTGRES_ADMIN_URL)
        self.primary_host = primary.host or "127.0.0.1"
        self.primary_port = primary.port or 5432
        self.directory = Path(tempfile.mkdtemp(prefix="tally-standby-"))
        self.slot = f"{SLOT_PREFIX}{os.getpid()}"
        self.log = self.directory / "standby.log"
        self.port = free_port()

    def url(self, primary_url: str) -> str:
        """``primary_url`` (a database of the primary) on the standby."""
        return make_url(primary_url).set(port=self.port).render_as_string(hide_password=False)

    def make(self) -> None:
        """Copy the primary into the directory, configured as a hot standby streaming from it."""
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self.directory.chmod(0o700)
        at_least = "\n".join(
            f"{name} = {in_thread(asyncio.run, query(self.primary_port, f'SHOW {name}'))}"
            for name in AT_LEAST_THE_PRIMARYS
        )
        backup = [str(self.bindir / "pg_basebackup"), "-h", self.primary_host, "-p", str(self.primary_port)]
        # Seen once under the whole suite: a checkpoint another test forced (a DROP DATABASE's) ended the copy's
        # temporary replication slot while the copy streamed ("terminating process … to release replication
        # slot" in the primary's log). pg_basebackup then empties the directory, so a new attempt starts clean.
        copy = ["-U", "postgres", "-D", str(self.directory), "-R", "-X", "stream", "-c", "fast", "-C", "-S", self.slot]
        for attempt in range(1, BACKUP_ATTEMPTS + 1):
            in_thread(asyncio.run, drop_leftover_slots(self.primary_port))
            try:
                run([*backup, *copy])
                break
            except subprocess.CalledProcessError:
                if attempt == BACKUP_ATTEMPTS:
                    raise
        # Debian keeps the configuration outside the data directory: the copy has none of its own.
        for name, content in (
            ("postgresql.conf", CONFIGURATION.format(at_least=at_least)),
            ("pg_hba.conf", HBA),
            ("pg_ident.conf", ""),
        ):
            run(["tee", str(self.directory / name)], stdin=content)

    def _pg_ctl(self, *args: str) -> None:
        run([str(self.bindir / "pg_ctl"), "-D", str(self.directory), "-w", "-t", "60", *args])

    def start(self) -> None:
        self._pg_ctl("-o", f"-p {self.port} -k {self.directory}", "-l", str(self.log), "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def remove(self) -> None:
        if (self.directory / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
        in_thread(asyncio.run, self._drop_slot())

    async def _drop_slot(self) -> None:
        """Drop this standby's slot once the primary has let its stream go (else the primary keeps WAL for it)."""

        async def dropped() -> bool:
            await query(self.primary_port, DROP_SLOT, self.slot)
            return bool(await query(self.primary_port, "SELECT NOT EXISTS (" + SLOT + ")", self.slot))

        await eventually(dropped, 30)

    async def query(self, sql: str, *args: Any) -> Any:
        return await query(self.port, sql, *args)

    async def wait_replayed(self, seconds: float = 30.0) -> None:
        """Until the standby has replayed everything the primary has written so far (at most ``seconds``)."""
        lsn = await query(self.primary_port, "SELECT CAST(pg_current_wal_lsn() AS text)")
        replayed = "SELECT pg_last_wal_replay_lsn() >= CAST(CAST($1 AS text) AS pg_lsn)"
        await eventually(lambda: self.query(replayed, lsn), seconds)

    async def pause_replay(self) -> None:
        """Stop replaying (the standby still receives WAL); returns once replay has stopped."""
        await self.query("SELECT pg_wal_replay_pause()")
        paused = "SELECT CAST(pg_get_wal_replay_pause_state() AS text) = 'paused'"
        await eventually(lambda: self.query(paused))

    async def resume_replay(self) -> None:
        await self.query("SELECT pg_wal_replay_resume()")


async def eventually(condition: Callable[[], Awaitable[Any]], seconds: float = 30.0) -> None:
    """Until ``condition()`` is true, polled every 50 ms; a TimeoutError after ``seconds``."""
    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - the condition is another server's state, no event to await
            await asyncio.sleep(0.05)


def run(command: list[str], stdin: str | None = None) -> None:
    subprocess.run(as_server_user(command), input=stdin, check=True, capture_output=True, text=True)


def allow_replication() -> None:
    """Put the replication rule first in the primary's pg_hba.conf (and reload) unless it is there."""
    port = make_url(POSTGRES_ADMIN_URL).port or 5432
    rules = in_thread(
        asyncio.run,
        query(
            port,
            "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' AND 'replication' = ANY(database) "
            "AND 'postgres' = ANY(user_name) AND address = '127.0.0.1' AND auth_method = 'trust'",
        ),
    )
    if rules:
        return
    hba = Path(in_thread(asyncio.run, query(port, "SHOW hba_file")))
    try:
        hba.write_text(f"{REPLICATION_RULE}\n{hba.read_text()}")
    except OSError as exc:
        unavailable(f"cannot add '{REPLICATION_RULE}' to {hba}: {exc}")
    in_thread(asyncio.run, query(port, "SELECT pg_reload_conf()"))


@pytest.fixture(scope="session")
def standby() -> Iterator[Standby]:
    """A running streaming standby of the test cluster for the whole session, stopped and removed afterwards."""
    bindir = binaries()
    if bindir is None:
        unavailable("pg_ctl and pg_basebackup are not installed (pg_config --bindir, /usr/lib/postgresql/*/bin)")
    assert bindir is not None
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        unavailable("running as root without runuser to start PostgreSQL as the postgres user")
    try:
        allow_replication()
    except OSError as exc:
        postgres_unavailable(str(exc))
    server = Standby(bindir)
    try:
        try:
            server.make()
            server.start()
        except subprocess.CalledProcessError as exc:
            log = server.log.read_text() if server.log.exists() else ""
            pytest.fail(f"the standby could not be made: {exc.cmd}: {exc.stderr}\n{log}")
        # A new standby first catches up with all the cluster wrote meanwhile (other tests' databases too, and on a
        # shared machine other suites'): a bound for a hang, not a timing.
        in_thread(asyncio.run, server.wait_replayed(seconds=180))
        yield server
    finally:
        server.remove()
