"""``tally credits grant``: support staff grant credits to a tenant from the command line, on the database."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tally.cli.base import CommandError, schema_problem_of, with_engine
from tally.config import Settings
from tally.credits.service import GrantService
from tally.domain.credits import Grant, GrantIn


def credits_grant(args: argparse.Namespace) -> int:
    """Create the grant (idempotent by ``--grant-id``, a new id by default) and print it as JSON."""
    settings = Settings.from_env(require_secret=False)
    try:
        spec = msgspec.convert(
            {
                "grant_id": args.grant_id or f"cli-{uuid.uuid4().hex[:16]}",
                "feature_key": args.feature,
                "amount": args.amount,
                "priority": args.priority,
                "effective_at": args.effective_at,
                "expires_at": args.expires_at,
                "note": args.note,
            },
            GrantIn,
        )
    except msgspec.ValidationError as exc:
        raise CommandError(str(exc)) from None

    async def grant(engine: AsyncEngine) -> tuple[Grant, bool]:
        if problem := await schema_problem_of(engine):
            raise CommandError(problem)
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            service = GrantService(session, settings.totals_source)
            return await service.create(args.tenant, spec, args.by, datetime.now(UTC))

    found, _ = with_engine(settings, grant)
    print(msgspec.json.encode(found).decode())
    return 0
