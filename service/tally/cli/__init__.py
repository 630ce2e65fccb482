"""The ``tally`` command: serve, migrate, token, features load, usage export, config.

Every command fails the same way: one line on stderr naming the cause (a setting, the database, a file) and
exit status 2, with no traceback unless ``tally --debug`` asks for it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn
from uuid import UUID

from tally.cli import admin
from tally.cli.base import CommandError
from tally.cli.credits import credits_grant
from tally.cli.export import usage_export
from tally.cli.serve import serve as run_serve
from tally.config import ConfigError
from tally.domain.errors import TallyError
from tally.http.auth import Role
from tally.metering.periods import NAIVE


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


def _instant(text: str) -> datetime | date:
    """An instant with its UTC offset, as the API takes it, or a bare date (the start of that day in the tenant's
    time zone, see ``tally usage export``). A datetime without an offset names no instant: refused, not guessed."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an RFC 3339 datetime or a date (YYYY-MM-DD)") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"'{text}' {NAIVE}, or give a bare date (the tenant's local midnight)")
    return value


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
    serve.set_defaults(run=run_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations to TALLY_DATABASE_URL")
    migrate.set_defaults(run=admin.migrate)

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
    token.set_defaults(run=admin.token)

    features = commands.add_parser("features", help="manage the feature catalog")
    features_commands = features.add_subparsers(required=True, metavar="ACTION")
    load = features_commands.add_parser("load", help="create or update features from a JSON or TOML file")
    load.add_argument("file", type=Path)
    load.set_defaults(run=admin.features_load)

    usage = commands.add_parser("usage", help="a tenant's usage")
    usage_commands = usage.add_subparsers(required=True, metavar="ACTION")
    export = usage_commands.add_parser(
        "export", help="write a period's totals per feature (or, with --events, every event) as CSV"
    )
    export.add_argument("--tenant", type=UUID, required=True, help="tenant UUID")
    bound = "an RFC 3339 datetime with an offset, or a date: that day's midnight in the tenant's time zone"
    export.add_argument("--period-start", type=_instant, required=True, metavar="WHEN", help=f"inclusive: {bound}")
    export.add_argument("--period-end", type=_instant, required=True, metavar="WHEN", help=f"exclusive: {bound}")
    export.add_argument("--events", action="store_true", help="every event of the period, voided ones included")
    export.add_argument("file", type=Path, help="the CSV file to write (replaced once the export is complete)")
    export.set_defaults(run=usage_export)

    credits = commands.add_parser("credits", help="a tenant's credit grants")
    credits_commands = credits.add_subparsers(required=True, metavar="ACTION")
    grant = credits_commands.add_parser(
        "grant", help="grant credits of a feature to a tenant (same --grant-id and content again: the same grant)"
    )
    grant.add_argument("--tenant", type=UUID, required=True, help="tenant UUID")
    grant.add_argument("--feature", required=True, help="feature key (its aggregation must be sum or count)")
    grant.add_argument("--amount", type=_positive, required=True, help="in the feature's unit")
    grant.add_argument("--priority", type=int, default=0, help="0-100, 0 burns first (default 0)")
    grant.add_argument("--effective-at", type=_instant, metavar="WHEN", help="RFC 3339 with an offset (default now)")
    grant.add_argument("--expires-at", type=_instant, metavar="WHEN", help="RFC 3339 with an offset (default never)")
    grant.add_argument("--note", help="why, for whom (shown with the grant)")
    grant.add_argument("--grant-id", help="the grant's id (default: a new one), to make a retry safe")
    grant.add_argument("--by", default="tally-cli", help="who grants, kept with the grant (default tally-cli)")
    grant.set_defaults(run=credits_grant)

    config = commands.add_parser("config", help="check the TALLY_* settings and print them, secrets masked")
    config.set_defaults(run=admin.config)
    return parser
