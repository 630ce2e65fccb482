"""Settings, read once from the environment into one typed struct.

Every setting is named ``TALLY_<FIELD>`` in the environment; ``Settings.from_env`` validates them all
at start-up and names the variable at fault, so a bad value stops the process with a clear message
instead of surfacing on the first request.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from tally.db import urls

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./tally.db"
SECRET_FIELDS = frozenset({"jwt_secret", "jwt_previous_secret"})
MASK = "********"
# TALLY_* variables that are not settings of the service: the test suite reads these.
OTHER_VARIABLES = frozenset({"TALLY_TEST_POSTGRES_URL", "TALLY_UPDATE_SCREENSHOT"})
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ConfigError(Exception):
    """A setting is missing or has a value that cannot be used."""


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL: ``sqlite+aiosqlite:///…`` (embedded) or ``postgresql+asyncpg://…``."""
    database_read_url: str | None = None
    """``postgresql+asyncpg://…`` URL of a streaming standby of ``database_url``: totals, event listings, CSV exports
    and entitlement reads go there while it is reachable and at most ``read_max_lag_seconds`` behind; unset: every
    read goes to ``database_url``."""
    read_max_lag_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """How far the standby of ``database_read_url`` may lag behind before reads go to ``database_url`` instead."""
    jwt_secret: Annotated[str, msgspec.Meta(min_length=32)] | None = None
    """HS256 signing secret for bearer tokens; required unless ``demo`` is set."""
    jwt_previous_secret: Annotated[str, msgspec.Meta(min_length=32)] | None = None
    """The secret being rotated out: tokens it signed are still accepted until ``jwt_previous_secret_until``."""
    jwt_previous_secret_until: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    """End of the rotation's grace period (an ISO-8601 instant with an offset, e.g. ``2026-12-01T00:00:00Z``)."""
    demo: bool = False
    """Demo mode: embedded database, generated secret, sample data. Never for production."""
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1024 * 1024
    """Largest request body accepted; larger bodies are answered with 413."""
    future_skew_seconds: Annotated[int, msgspec.Meta(ge=0)] = 300
    """How far in the future an event timestamp may lie before it is rejected."""
    db_pool_size: Annotated[int, msgspec.Meta(ge=1)] = 10
    """Connections kept open per process (PostgreSQL)."""
    db_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 5.0
    """Bound on connecting to the database and on waiting for a pooled connection."""
    retry_after_seconds: Annotated[int, msgspec.Meta(ge=1)] = 5
    """``Retry-After`` sent with a 503 while the database is unreachable."""
    totals_source: Literal["buckets", "events"] = "buckets"
    """Where totals come from: pre-aggregated buckets, or a plain sum over raw events (the naive way, kept
    for benchmarking and for checking the buckets; never faster)."""
    export_page_size: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1000
    """Events read per statement while a CSV export streams (the export holds one page in memory)."""
    catalog_file: str | None = None
    """A JSON or TOML feature catalog loaded (created or updated) at start-up."""
    log_level: LogLevel = "INFO"
    """Python logging level: ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` or ``CRITICAL``."""
    metrics_enabled: bool = True
    """Prometheus metrics; false: no ``/metrics`` route and no metrics port."""
    metrics_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] | None = None
    """Serve the metrics on this port (all interfaces) instead of at ``/metrics`` on the API's port."""

    rate_limit_reads: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Per-tenant limit on reads (GET of a tenant's routes) per window; unset: no limit."""
    rate_limit_writes: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """Per-tenant limit on writes (recording and voiding usage) per window; unset: no limit."""
    rate_limit_window_seconds: Annotated[int, msgspec.Meta(ge=1, le=86400)] = 60
    """Length of the rate limits' fixed windows."""
    rate_limit_store: Literal["database", "process"] | None = None
    """Where rate limits are counted: ``database`` (shared by every process and host; the default on PostgreSQL) or
    ``process`` (each process on its own; the default on SQLite)."""
    otel_enabled: bool = False
    """OpenTelemetry traces (HTTP and database spans); needs the ``otel`` extra (``pip install 'tally[otel]'``)."""
    webhook_allow_private: bool = False
    """Allow webhook endpoints on loopback, private and link-local addresses (local use and tests only)."""
    webhook_delivery_enabled: bool = True
    """Run the webhook delivery task in this serving process; false: this process only records alerts."""
    webhook_poll_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 1.0
    """How often the delivery task looks for due webhook deliveries."""
    webhook_retry_base_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 5.0
    """The first retry's delay; each further one doubles (with jitter, at most an hour)."""
    webhook_retry_hours: Annotated[float, msgspec.Meta(gt=0)] = 24.0
    """How long a delivery is retried before it is marked failed."""
    webhook_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 10.0
    """A delivery attempt answered with a 2xx within this time is a success; no answer by then is a failure."""
    period_close_enabled: bool = True
    """Run the background close of billing periods whose grace has passed in this serving process."""
    period_close_poll_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 60.0
    """How often the background close looks for periods whose grace has passed."""
    webhook_lease_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60.0
    """How long a claimed delivery belongs to one process (longer than an attempt); a process that dies leaves
    its deliveries due again after this."""

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, require_secret: bool = True, **overrides: Any
    ) -> Settings:
        """Read ``TALLY_*`` variables; ``overrides`` win over the environment. Commands that sign or
        check no token (``migrate``, ``features load``) pass ``require_secret=False``."""
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for name in cls.__struct_fields__:
            value = environ.get(f"TALLY_{name.upper()}")
            if value is not None and value != "":
                raw[name] = value
        raw.update({k: v for k, v in overrides.items() if v is not None})
        try:
            # strict=False lets msgspec turn "5" into 5 and "true" into True, as environment values are text.
            settings = msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(_env_message(str(exc))) from None
        if require_secret and settings.jwt_secret is None and not settings.demo:
            raise ConfigError(
                "TALLY_JWT_SECRET is not set: Tally signs and checks bearer tokens with it. "
                "Set it to a random string of at least 32 characters, or run `tally serve --demo`."
            )
        try:
            urls.kind_of(settings.database_url)
            if settings.database_read_url is not None:
                urls.check_read_url(settings.database_read_url, settings.database_url)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        # postgresql:// and postgres:// (what hosting platforms hand out) mean PostgreSQL through asyncpg.
        settings = msgspec.structs.replace(
            settings,
            database_url=urls.with_driver(settings.database_url),
            database_read_url=settings.database_read_url and urls.with_driver(settings.database_read_url),
        )
        if (settings.jwt_previous_secret is None) != (settings.jwt_previous_secret_until is None):
            raise ConfigError(
                "TALLY_JWT_PREVIOUS_SECRET and TALLY_JWT_PREVIOUS_SECRET_UNTIL go together: set both (the old "
                "secret and the instant its tokens stop being accepted) or neither."
            )
        if settings.webhook_lease_seconds <= settings.webhook_timeout_seconds:
            raise ConfigError(
                "TALLY_WEBHOOK_LEASE_SECONDS must be longer than TALLY_WEBHOOK_TIMEOUT_SECONDS: a delivery's lease "
                "must outlast its attempt, or a second process could send it at the same time."
            )
        if settings.otel_enabled and importlib.util.find_spec("opentelemetry.sdk") is None:
            raise ConfigError("TALLY_OTEL_ENABLED=true needs the otel extra: pip install 'tally[otel]'")
        return settings

    @staticmethod
    def unknown_variables(environ: Mapping[str, str] | None = None) -> Iterator[str]:
        """A warning for each ``TALLY_*`` variable that is no setting (a typo is silently ignored otherwise)."""
        environ = os.environ if environ is None else environ
        known = [f"TALLY_{name.upper()}" for name in Settings.__struct_fields__]
        for name in sorted(environ):
            if name.startswith("TALLY_") and name not in known and name not in OTHER_VARIABLES:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                yield f"{name} is not a Tally setting and is ignored{hint}"

    def masked(self) -> dict[str, Any]:
        """The effective settings with secrets (and the database URLs' passwords) replaced, for printing."""
        shown = msgspec.structs.asdict(self)
        for name in SECRET_FIELDS:
            if shown.get(name):
                shown[name] = MASK
        shown["database_url"] = redact_url(self.database_url)
        if self.database_read_url is not None:
            shown["database_read_url"] = redact_url(self.database_read_url)
        return shown


def redact_url(url: str) -> str:
    """``url`` with the password of its credentials masked. (Not SQLAlchemy's ``render_as_string``: it also
    re-quotes the rest, e.g. ``:memory:``, and fails on a URL it cannot parse.)"""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    user, has_password, _ = credentials.partition(":")
    return f"{scheme}{sep}{user}:{MASK}{at}{host}" if at and has_password else url


def _env_message(message: str) -> str:
    # msgspec says "… - at `$.max_body_bytes`": name the environment variable instead.
    text, _, path = message.partition(" - at `$.")
    field = path.rstrip("`")
    return f"TALLY_{field.upper()}: {text}" if field else message
