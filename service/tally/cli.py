"""The ``tally`` command: serve, migrate, token, features load, config."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import msgspec
import uvicorn

from tally.auth import Role, generate_secret, issue_token
from tally.config import ConfigError, Settings, redact_url
from tally.db.engine import create_engine
from tally.db.migrate import upgrade
from tally.domain.errors import TallyError
from tally.ui import sign_in_link

DEMO_DATABASE_URL = "sqlite+aiosqlite:///./tally-demo.db"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ConfigError, TallyError) as exc:
        print(f"tally: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tally", description="Metered-usage service.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="embedded database, sample data, generated secret")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations to TALLY_DATABASE_URL")
    migrate.set_defaults(run=_migrate)

    token = commands.add_parser("token", help="print a signed bearer token made with TALLY_JWT_SECRET")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--tenant", type=UUID, help="tenant UUID (every role but platform)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
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

    config = commands.add_parser("config", help="check the TALLY_* settings and print them, secrets masked")
    config.set_defaults(run=_config)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from tally.app import create_app

    if args.demo:
        from tally.demo import DEMO_TENANT, load_demo

        # TALLY_JWT_SECRET, when set, is kept, so `tally token` can mint more tokens for the demo.
        secret = None if os.environ.get("TALLY_JWT_SECRET") else generate_secret()
        settings = Settings.from_env(demo=True, database_url=DEMO_DATABASE_URL, jwt_secret=secret)
        upgrade(settings.database_url)
        loaded = asyncio.run(_with_engine(settings, load_demo))
        assert settings.jwt_secret is not None
        day = timedelta(days=1)
        viewer = issue_token(settings.jwt_secret, Role.VIEWER, DEMO_TENANT, subject="demo-viewer", ttl=day)
        admin = issue_token(settings.jwt_secret, Role.ADMIN, DEMO_TENANT, subject="demo-admin", ttl=day)
        base = f"http://{args.host}:{args.port}"
        print(
            f"Tally demo: {loaded} sample events newly loaded into {settings.database_url}\n"
            f"  URL:          {base}\n"
            f"  demo tenant:  {DEMO_TENANT}\n"
            f"  viewer token (reads totals; valid 24 h):\n{viewer}\n"
            f"  admin token (also records and voids usage; valid 24 h):\n{admin}\n"
            f"  usage page (open this sign-in link in a browser):\n{sign_in_link(base, viewer)}\n\n"
            f'  try: curl -H "Authorization: Bearer <viewer token>" \\\n'
            f"         {base}/api/v1/billing/tenants/{DEMO_TENANT}/usage-totals\n",
            flush=True,
        )
    else:
        settings = Settings.from_env()
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


async def _with_engine(settings: Settings, work):  # type: ignore[no-untyped-def]
    engine = create_engine(settings)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def _config(_: argparse.Namespace) -> int:
    """One ``TALLY_NAME=value`` line per setting, as ``serve`` would use them (empty: unset)."""
    for name, value in msgspec.to_builtins(Settings.from_env().masked()).items():
        shown = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        print(f"TALLY_{name.upper()}={shown}")
    return 0


def _migrate(_: argparse.Namespace) -> int:
    settings = Settings.from_env(require_secret=False)
    upgrade(settings.database_url)
    print(f"tally: migrated {redact_url(settings.database_url)} to the latest schema")
    return 0


def _token(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    role = Role(args.role)
    if role is not Role.PLATFORM and args.tenant is None:
        print(f"tally: --tenant is required for role '{role.value}'", file=sys.stderr)
        return 2
    assert settings.jwt_secret is not None
    tenant = None if role is Role.PLATFORM else args.tenant
    token = issue_token(settings.jwt_secret, role, tenant, subject=args.subject, ttl=timedelta(seconds=args.ttl))
    print(sign_in_link(args.link, token) if args.link else token)
    return 0


def _features_load(args: argparse.Namespace) -> int:
    from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

    from tally.catalog.service import CatalogService, read_catalog_file

    settings = Settings.from_env(require_secret=False)
    catalog = read_catalog_file(args.file)

    async def load(engine: AsyncEngine) -> None:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            features, plans = await CatalogService(session).load(catalog.features, catalog.plans)
            for feature, created in features:
                action = "created" if created else "updated"
                print(f"{action} {feature.feature_key} ({feature.unit}, {feature.aggregation.value})")
            for plan, created in plans:
                print(f"{'created' if created else 'updated'} plan {plan.plan_key} ({len(plan.limits)} limits)")

    asyncio.run(_with_engine(settings, load))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
