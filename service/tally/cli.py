"""The ``tally`` command: serve, migrate, token, features load, config.

Every command fails the same way: one line on stderr naming the cause (a setting, the database, a file) and
exit status 2, with no traceback unless ``tally --debug`` asks for it.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import logging
import logging.config
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from uuid import UUID

import msgspec
import uvicorn
from alembic.util import CommandError as AlembicError
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from tally.auth import Role, generate_secret, issue_token
from tally.config import ConfigError, Settings, redact_url
from tally.db import dialects
from tally.db.engine import create_engine
from tally.db.migrate import missing_database, schema_problem, upgrade
from tally.domain.errors import TallyError
from tally.logs import process_log_config
from tally.ports import port_problem
from tally.ui import sign_in_link

DEMO_DATABASE_URL = "sqlite+aiosqlite:///./tally-demo.db"
T = TypeVar("T")

logger = logging.getLogger("tally")


class CommandError(Exception):
    """A command cannot do its work; the message is the one line the operator sees."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ConfigError, TallyError, CommandError) as exc:
        if args.debug:
            raise
        print(f"tally: {exc}", file=sys.stderr)
        return 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an ISO-8601 datetime") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tally", description="Metered-usage service.")
    parser.add_argument("--debug", action="store_true", help="show the traceback when a command fails")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=_positive,
        help="worker processes (uvicorn's own; default: one per CPU core on PostgreSQL, 1 on SQLite)",
    )
    serve.add_argument("--demo", action="store_true", help="embedded database, sample data, generated secret")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations to TALLY_DATABASE_URL")
    migrate.set_defaults(run=_migrate)

    token = commands.add_parser("token", help="print a signed bearer token made with TALLY_JWT_SECRET")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--tenant", type=UUID, help="tenant UUID (every role but platform)")
    token.add_argument("--ttl", type=_positive, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument("--subject", default="tally-cli")
    token.add_argument(
        "--link",
        nargs="?",
        const="http://127.0.0.1:8000",
        metavar="BASE_URL",
        help="print a usage-page sign-in link instead (BASE_URL default http://127.0.0.1:8000)",
    )
    token.set_defaults(run=_token)

    features = commands.add_parser("features", help="manage the feature catalog")
    features_commands = features.add_subparsers(required=True, metavar="ACTION")
    load = features_commands.add_parser("load", help="create or update features from a JSON or TOML file")
    load.add_argument("file", type=Path)
    load.set_defaults(run=_features_load)

    usage = commands.add_parser("usage", help="a tenant's usage")
    usage_commands = usage.add_subparsers(required=True, metavar="ACTION")
    export = usage_commands.add_parser(
        "export", help="write a period's totals per feature (or, with --events, every event) as CSV"
    )
    export.add_argument("--tenant", type=UUID, required=True, help="tenant UUID")
    export.add_argument("--period-start", type=_instant, required=True, metavar="ISO-8601", help="inclusive")
    export.add_argument("--period-end", type=_instant, required=True, metavar="ISO-8601", help="exclusive")
    export.add_argument("--events", action="store_true", help="every event of the period, voided ones included")
    export.add_argument("file", type=Path, help="the CSV file to write (replaced once the export is complete)")
    export.set_defaults(run=_usage_export)

    config = commands.add_parser("config", help="check the TALLY_* settings and print them, secrets masked")
    config.set_defaults(run=_config)
    return parser


@contextmanager
def _database_errors(url: str) -> Iterator[None]:
    """The database's failures (unreachable, refused, missing, unknown revision) as one line naming it."""
    try:
        yield
    except (sa_exc.DBAPIError, OSError, TimeoutError, AlembicError) as exc:
        cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise CommandError(f"cannot use the database {redact_url(url)}: {reason}") from exc


def _with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    with _database_errors(settings.database_url):
        return asyncio.run(run())


def _check(settings: Settings) -> None:
    """What ``serve`` would otherwise trip over at start-up, beyond the settings' own validation."""
    if settings.catalog_file:
        from tally.catalog.service import read_catalog_file

        try:
            read_catalog_file(Path(settings.catalog_file))
        except TallyError as exc:
            raise ConfigError(f"TALLY_CATALOG_FILE: {exc}") from None


async def _schema_problem(engine: AsyncEngine) -> str | None:
    if problem := missing_database(engine):
        return problem
    async with engine.connect() as connection:
        return await schema_problem(connection)


def _serve(args: argparse.Namespace) -> int:
    if args.demo:
        # TALLY_JWT_SECRET, when set, is kept, so `tally token` can mint more tokens for the demo. The demo's
        # settings go into the environment: the workers build their app from it (tally.app:create_app).
        secret = os.environ.get("TALLY_JWT_SECRET") or generate_secret()
        os.environ.update(TALLY_DEMO="true", TALLY_DATABASE_URL=DEMO_DATABASE_URL, TALLY_JWT_SECRET=secret)
    settings = Settings.from_env()
    _check(settings)
    if not args.demo and (problem := _with_engine(settings, _schema_problem)):
        raise CommandError(problem)
    # Before the demo touches its database or prints its tokens: they would be useless if another server holds
    # the port.
    if problem := port_problem(args.host, args.port):
        raise CommandError(problem)
    if args.demo:
        with _database_errors(settings.database_url):
            upgrade(settings.database_url)
        _print_demo(settings, f"http://{args.host}:{args.port}")
    log_config = process_log_config(settings.log_level)
    logging.config.dictConfig(log_config)
    for warning in Settings.unknown_variables():
        logger.warning(warning)
    url, dialect = f"http://{args.host}:{args.port}", dialects.for_url(settings.database_url)
    workers = args.workers or dialect.default_workers()
    if workers > 1 and settings.metrics_enabled:
        _share_metrics()
    logger.info(
        "serving %s with %d worker(s) on %s",
        url,
        workers,
        redact_url(settings.database_url),
        extra={"url": url, "workers": workers, "database": dialect.name},
    )
    uvicorn.run(
        "tally.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=workers,
        log_config=log_config,
        # Tally's own request line (tally.logs) is the access log: a second line per request from uvicorn would
        # cost as much again, and it carries the raw path (a tenant id) where Tally's names the route template.
        access_log=False,
    )
    return 0


def _share_metrics() -> None:
    """Make a scrape of any worker report the sums of all of them: prometheus_client's multiprocess mode, in a
    fresh directory of this start (removed at exit) unless the operator set ``PROMETHEUS_MULTIPROC_DIR``. The
    workers inherit the variable; they are new interpreters (uvicorn spawns them), so their metrics are made
    in this mode from the start."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = tempfile.mkdtemp(prefix="tally-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


def _print_demo(settings: Settings, base: str) -> None:
    from tally.demo import DEMO_TENANT, load_demo

    loaded = _with_engine(settings, load_demo)
    assert settings.jwt_secret is not None
    day = timedelta(days=1)
    viewer = issue_token(settings.jwt_secret, Role.VIEWER, DEMO_TENANT, subject="demo-viewer", ttl=day)
    admin = issue_token(settings.jwt_secret, Role.ADMIN, DEMO_TENANT, subject="demo-admin", ttl=day)
    platform = issue_token(settings.jwt_secret, Role.PLATFORM, None, subject="demo-platform", ttl=day)
    print(
        f"Tally demo: {loaded} sample events newly loaded into {settings.database_url}\n"
        f"  URL:          {base}\n"
        f"  demo tenant:  {DEMO_TENANT}\n"
        f"  viewer token (reads totals; valid 24 h):\n{viewer}\n"
        f"  admin token (also records and voids usage; valid 24 h):\n{admin}\n"
        f"  platform token (also changes the feature catalog, any tenant; valid 24 h):\n{platform}\n"
        f"  usage page (open this sign-in link in a browser):\n{sign_in_link(base, viewer)}\n\n"
        f'  try: curl -H "Authorization: Bearer <viewer token>" \\\n'
        f"         {base}/api/v1/billing/tenants/{DEMO_TENANT}/usage-totals\n",
        flush=True,
    )


def _config(_: argparse.Namespace) -> int:
    """One ``TALLY_NAME=value`` line per setting, as ``serve`` would use them (empty: unset); a warning on
    stderr for each ``TALLY_*`` variable that is no setting."""
    settings = Settings.from_env()
    _check(settings)
    for warning in Settings.unknown_variables():
        print(f"tally: warning: {warning}", file=sys.stderr)
    for name, value in msgspec.to_builtins(settings.masked()).items():
        shown = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        print(f"TALLY_{name.upper()}={shown}")
    return 0


def _migrate(_: argparse.Namespace) -> int:
    settings = Settings.from_env(require_secret=False)
    with _database_errors(settings.database_url):
        upgrade(settings.database_url)
    print(f"tally: migrated {redact_url(settings.database_url)} to the latest schema")
    return 0


def _token(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    role = Role(args.role)
    if role is not Role.PLATFORM and args.tenant is None:
        raise CommandError(f"--tenant is required for role '{role.value}'")
    assert settings.jwt_secret is not None
    tenant = None if role is Role.PLATFORM else args.tenant
    token = issue_token(settings.jwt_secret, role, tenant, subject=args.subject, ttl=timedelta(seconds=args.ttl))
    print(sign_in_link(args.link, token) if args.link else token)
    return 0


def _features_load(args: argparse.Namespace) -> int:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from tally.catalog.service import CatalogService, read_catalog_file

    settings = Settings.from_env(require_secret=False)
    catalog = read_catalog_file(args.file)

    async def load(engine: AsyncEngine) -> tuple[list[Any], list[Any]]:
        if problem := await _schema_problem(engine):
            raise CommandError(problem)
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            return await CatalogService(session).load(catalog.features, catalog.plans)

    features, plans = _with_engine(settings, load)
    for feature, created in features:
        action = "created" if created else "updated"
        print(f"{action} {feature.feature_key} ({feature.unit}, {feature.aggregation.value})")
    for plan, created in plans:
        print(f"{'created' if created else 'updated'} plan {plan.plan_key} ({len(plan.limits)} limits)")
    return 0


class _CsvFile:
    """The export's file, written as ``FILE.part`` and renamed to ``FILE`` once complete, so a failed export leaves
    no half-written file behind. Its failures are one line naming the file (not the database's message)."""

    def __init__(self, path: Path) -> None:
        self.path, self.part = path, path.with_name(f"{path.name}.part")

    def _io(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except OSError as exc:
            raise CommandError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    async def write(self, chunks: AsyncIterator[bytes]) -> None:
        file = self._io(lambda: self.part.open("wb"))
        try:
            async for chunk in chunks:
                self._io(lambda: file.write(chunk))  # noqa: B023 (called at once)
            self._io(file.close)
            self._io(lambda: os.replace(self.part, self.path))
        finally:
            file.close()
            self.part.unlink(missing_ok=True)


class _Progress:
    """A bar on stderr, only when stderr is a terminal (a pipe or a log file gets nothing): how far through the
    period the export is, as events come oldest first. Hand-rolled: one line of output needs no dependency."""

    WIDTH = 30

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start, self.span = start, (end - start).total_seconds()
        self.shown = sys.stderr.isatty()
        self.rows = 0

    async def follow(self, pages: AsyncIterator[Sequence[Any]]) -> AsyncIterator[Sequence[Any]]:
        async for page in pages:
            yield page
            self.rows += len(page)
            self._draw((page[-1].timestamp - self.start).total_seconds() / self.span)
        self._draw(1.0)
        if self.shown:
            print(file=sys.stderr)

    def _draw(self, done: float) -> None:
        if self.shown:
            done = min(max(done, 0.0), 1.0)
            bar = "#" * round(done * self.WIDTH)
            print(f"\r[{bar:.<{self.WIDTH}}] {done:4.0%} {self.rows:,} events", end="", file=sys.stderr, flush=True)


def _usage_export(args: argparse.Namespace) -> int:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from tally.usage import exports
    from tally.usage.service import UsageService
    from tally.usage.totals import TotalsQuery

    settings = Settings.from_env(require_secret=False)
    # The totals' query checks the period (either order of the bounds is a one-line error); events share it.
    query = TotalsQuery.build(now=datetime.now(UTC), period_start=args.period_start, period_end=args.period_end)
    (start, end), progress = query.windows[0], _Progress(*query.windows[0])
    output = _CsvFile(args.file)

    async def export(engine: AsyncEngine) -> int:
        if problem := await _schema_problem(engine):
            raise CommandError(problem)
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            usage = UsageService(session)
            if args.events:
                pages = await usage.export_events(args.tenant, None, start, end, settings.export_page_size)
                await output.write(exports.events_csv(progress.follow(pages)))
                return progress.rows
            totals = await usage.totals(args.tenant, query)
            await output.write(exports.totals_csv(totals, ()))
            return len(totals)

    rows = _with_engine(settings, export)
    print(f"wrote {rows:,} {'events' if args.events else 'totals'} to {args.file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
