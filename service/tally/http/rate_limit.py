"""Per-tenant rate limits on the routes of one tenant (``/tenants/{tenant_id}/…``): reads and writes apart.

Off unless ``TALLY_RATE_LIMIT_READS`` or ``TALLY_RATE_LIMIT_WRITES`` is set: at most that many requests per
tenant in each window of ``TALLY_RATE_LIMIT_WINDOW_SECONDS`` (fixed windows aligned to the clock, so a burst
straddling a window's end may reach twice the quota). Over the limit: 429 problem details with
``Retry-After`` (seconds until the window ends). Every limited answer carries the IETF draft's
``RateLimit-Policy: "reads";q=100;w=60`` and ``RateLimit: "reads";r=42;t=17`` (remaining, seconds to reset).

Why not Litestar's ``RateLimitMiddleware``: it can key by the tenant in the path, but it stores every
request's timestamp of the window and re-encodes that list as JSON on every request (cost grows with the
quota), serialises all tenants behind one lock, sends no ``Retry-After``, writes the older draft's four
headers, and would count a request that the tenant guard then refuses with 403 against the *other*
tenant's quota (it runs before the guards). This one is a dictionary of counters.

Where the counters live (``TALLY_RATE_LIMIT_STORE``): ``database``, the default on PostgreSQL, is one row per
(tenant, quota) in the unlogged ``rate_limit_counter`` table, counted by one upsert per limited request, so every
process and host shares the limit. ``process``, the default on SQLite (where a counted read would take the one
write lock), keeps them in this process: N workers then admit up to N times the quota, and the start-up says so.
When the database cannot count (a transient error), the request is counted in the process instead and
``tally_rate_limit_store_errors_total`` goes up: a limiter that fails closed would turn a database hiccup into
refusing every tenant. Why PostgreSQL and not Redis (Litestar's ``RedisStore``): docs/scaling.md, measured.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from litestar.exceptions import PermissionDeniedException, TooManyRequestsException
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncEngine

from tally.db import dialects
from tally.db.repositories import RateLimitCounterRepository
from tally.http.auth import Permission, Principal, authorize
from tally.metrics import RATE_LIMIT_STORE_ERRORS

logger = logging.getLogger("tally.http.rate_limit")

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TRACKED = 100_000


@dataclass
class Quota:
    name: str
    limit: int
    window: int


class Counters(Protocol):
    async def count(self, tenant: UUID, quota: str, window: int) -> int:
        """Count one request; the window's count, this request included."""
        ...


@dataclass
class ProcessCounters:
    """Counters in this process's memory: a fixed window per (quota, tenant)."""

    counters: dict[tuple[str, UUID], tuple[int, int]] = field(default_factory=dict)

    async def count(self, tenant: UUID, quota: str, window: int) -> int:
        key = (quota, tenant)
        start, used = self.counters.get(key, (window, 0))
        if start != window:
            used = 0
        if len(self.counters) >= MAX_TRACKED and key not in self.counters:
            self._forget_old(window)
        self.counters[key] = (window, used + 1)
        return used + 1

    def _forget_old(self, window: int) -> None:
        # Counters of past windows count nothing any more; bounded memory however many tenants call.
        self.counters = {k: v for k, v in self.counters.items() if v[0] >= window}


@dataclass
class SharedCounters:
    """Counters in the database, shared by every process; this process's own while the database cannot count."""

    repository: RateLimitCounterRepository
    fallback: ProcessCounters = field(default_factory=ProcessCounters)
    warned_at: float = -math.inf

    async def count(self, tenant: UUID, quota: str, window: int) -> int:
        try:
            return await self.repository.count(tenant, quota, window)
        except Exception as exc:
            if not dialects.transient(exc):
                raise
            RATE_LIMIT_STORE_ERRORS.inc()
            if time.monotonic() - self.warned_at > 60:  # a line a minute, not one per request, while it lasts
                self.warned_at = time.monotonic()
                logger.warning(
                    "rate limits counted in this process: the database could not count (%s)", type(exc).__name__
                )
            return await self.fallback.count(tenant, quota, window)


@dataclass
class TenantRateLimiter:
    """Fixed-window limits per (quota, tenant), counted by ``counters``."""

    reads: Quota | None
    writes: Quota | None
    counters: Counters = field(default_factory=ProcessCounters)

    async def hit(self, quota: Quota, tenant: UUID, now: float) -> tuple[bool, int, int]:
        """Count one request; ``(allowed, remaining, seconds until the window resets)``. A refused request is
        counted too (it changes nothing: the window is used up either way)."""
        window = int(now // quota.window)
        used = await self.counters.count(tenant, quota.name, window)
        reset = max(1, math.ceil((window + 1) * quota.window - now))
        return used <= quota.limit, max(0, quota.limit - used), reset

    def quota_for(self, method: str) -> Quota | None:
        return self.reads if method in READ_METHODS else self.writes

    async def admit(self, scope: Scope) -> dict[str, str] | None:
        """Count a request against its tenant's quota (called by ``tally.http.middleware`` after the token check):
        the ``RateLimit`` headers for its answer, None when it spends no quota; 429 when the quota is used up."""
        tenant = _tenant_of(scope)
        quota = self.quota_for(str(scope.get("method"))) if tenant is not None else None
        if tenant is None or quota is None:
            return None
        allowed, remaining, reset = await self.hit(quota, tenant, time.time())
        headers = {
            "RateLimit-Policy": f'"{quota.name}";q={quota.limit};w={quota.window}',
            "RateLimit": f'"{quota.name}";r={remaining};t={reset}',
        }
        if not allowed:
            raise TooManyRequestsException(
                detail=f"this tenant's {quota.name} limit of {quota.limit} requests per {quota.window} s is "
                f"used up; retry after {reset} s",
                headers={**headers, "Retry-After": str(reset)},
            )
        return headers


def _tenant_of(scope: Scope) -> UUID | None:
    """The tenant whose quota a request spends: the one in the path, if the caller may act for it. A request
    the tenant guard will refuse (403) or a malformed tenant id (400) spends nobody's quota."""
    raw = scope.get("path_params", {}).get("tenant_id")
    principal = scope.get("user")
    if raw is None or not isinstance(principal, Principal):
        return None
    try:
        tenant = UUID(str(raw))
        authorize(principal, Permission.READ_USAGE, tenant)  # every role may read: this is the guard's tenant rule
    except (ValueError, PermissionDeniedException):
        return None
    return tenant


def limiter_from(
    reads: int | None, writes: int | None, window: int, store: str | None, engine: AsyncEngine
) -> TenantRateLimiter | None:
    """The limiter the settings ask for (None: no limit); ``store`` None is the database's default."""
    if reads is None and writes is None:
        return None
    dialect = dialects.named(engine.dialect)
    if (store or dialect.default_rate_limit_store) == "database":
        counters: Counters = SharedCounters(RateLimitCounterRepository(engine))
    else:
        counters = ProcessCounters()
        logger.warning(
            "rate limits are counted per process (TALLY_RATE_LIMIT_STORE=process, the default on %s): with N "
            "workers or hosts a tenant may get up to N times its quota",
            dialect.name,
        )
    return TenantRateLimiter(
        reads=Quota("reads", reads, window) if reads is not None else None,
        writes=Quota("writes", writes, window) if writes is not None else None,
        counters=counters,
    )
