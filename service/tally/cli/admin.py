"""The operator's small commands: ``config``, ``migrate``, ``token`` and ``features load``."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tally.catalog_file import load_catalog, read_catalog_file
from tally.cli.base import CommandError, check_files, database_errors, schema_problem_of, with_engine
from tally.config import Settings, redact_url
from tally.db.migrate import upgrade
from tally.http.auth import Role, issue_token
from tally.ui import sign_in_link


def config(_: argparse.Namespace) -> int:
    """One ``TALLY_NAME=value`` line per setting, as ``serve`` would use them (empty: unset); a warning on
    stderr for each ``TALLY_*`` variable that is no setting."""
    settings = Settings.from_env()
    check_files(settings)
    for warning in Settings.unknown_variables():
        print(f"tally: warning: {warning}", file=sys.stderr)
    for name, value in msgspec.to_builtins(settings.masked()).items():
        shown = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        print(f"TALLY_{name.upper()}={shown}")
    return 0


def migrate(_: argparse.Namespace) -> int:
    settings = Settings.from_env(require_secret=False)
    with database_errors(settings.database_url):
        upgrade(settings.database_url)
    print(f"tally: migrated {redact_url(settings.database_url)} to the latest schema")
    return 0


def token(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    role = Role(args.role)
    if role is not Role.PLATFORM and args.tenant is None:
        raise CommandError(f"--tenant is required for role '{role.value}'")
    assert settings.jwt_secret is not None
    tenant = None if role is Role.PLATFORM else args.tenant
    token = issue_token(settings.jwt_secret, role, tenant, subject=args.subject, ttl=timedelta(seconds=args.ttl))
    print(sign_in_link(args.link, token) if args.link else token)
    return 0


def features_load(args: argparse.Namespace) -> int:
    settings = Settings.from_env(require_secret=False)
    catalog = read_catalog_file(args.file)

    async def load(engine: AsyncEngine) -> tuple[list[Any], list[Any]]:
        if problem := await schema_problem_of(engine):
            raise CommandError(problem)
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            return await load_catalog(session, catalog.features, catalog.plans)

    features, plans = with_engine(settings, load)
    for feature, created in features:
        action = "created" if created else "updated"
        print(f"{action} {feature.feature_key} ({feature.unit}, {feature.aggregation.value})")
    for plan, created in plans:
        print(f"{'created' if created else 'updated'} plan {plan.plan_key} ({len(plan.limits)} limits)")
    return 0
