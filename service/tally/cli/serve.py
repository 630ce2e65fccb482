"""``tally serve``: the service under uvicorn, with the demo's data and tokens when asked."""

from __future__ import annotations

import argparse
import atexit
import logging
import logging.config
import os
import shutil
import tempfile
from datetime import timedelta

import uvicorn

from tally.cli.base import CommandError, check_files, database_errors, schema_problem_of, with_engine
from tally.cli.ports import port_problem
from tally.config import Settings, redact_url
from tally.db import dialects
from tally.db.migrate import upgrade
from tally.http.auth import Role, generate_secret, issue_token
from tally.logs import process_log_config
from tally.ui import sign_in_link

DEMO_DATABASE_URL = "sqlite+aiosqlite:///./tally-demo.db"
WORKER_HEALTHCHECK_SECONDS = 30

logger = logging.getLogger("tally")


def serve(args: argparse.Namespace) -> int:
    if args.demo:
        # TALLY_JWT_SECRET, when set, is kept, so `tally token` can mint more tokens for the demo. The demo's
        # settings go into the environment: the workers build their app from it (tally.app:create_app).
        secret = os.environ.get("TALLY_JWT_SECRET") or generate_secret()
        os.environ.update(TALLY_DEMO="true", TALLY_DATABASE_URL=DEMO_DATABASE_URL, TALLY_JWT_SECRET=secret)
    settings = Settings.from_env()
    check_files(settings)
    if not args.demo and (problem := with_engine(settings, schema_problem_of)):
        raise CommandError(problem)
    # Before the demo touches its database or prints its tokens: they would be useless if another server holds
    # the port.
    if problem := port_problem(args.host, args.port):
        raise CommandError(problem)
    if args.demo:
        with database_errors(settings.database_url):
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
        # uvicorn kills a worker that has not answered its supervisor's ping within this many seconds. Its default
        # (5 s) killed workers still importing the app on a loaded machine (about 4 s of wall time at a load
        # average of 7), over and over, so a server of several workers never had them all up.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
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

    loaded = with_engine(settings, load_demo)
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
