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

Counters live in the process: with several workers each counts on its own, so a deployment of N workers
admits up to N times the quota. A shared store (Redis, or a PostgreSQL table) could come later.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from uuid import UUID

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import PermissionDeniedException, TooManyRequestsException
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from tally.auth import Permission, Principal, authorize

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TRACKED = 100_000


@dataclass
class Quota:
    name: str
    limit: int
    window: int


@dataclass
class TenantRateLimiter:
    """Fixed-window counters per (quota, tenant)."""

    reads: Quota | None
    writes: Quota | None
    counters: dict[tuple[str, UUID], tuple[int, int]] = field(default_factory=dict)

    def hit(self, quota: Quota, tenant: UUID, now: float) -> tuple[bool, int, int]:
        """Count one request; ``(allowed, remaining, seconds until the window resets)``."""
        window = int(now // quota.window)
        key = (quota.name, tenant)
        start, used = self.counters.get(key, (window, 0))
        if start != window:
            used = 0
        reset = max(1, math.ceil((window + 1) * quota.window - now))
        if used >= quota.limit:
            return False, 0, reset
        if len(self.counters) >= MAX_TRACKED and key not in self.counters:
            self._forget_old(window)
        self.counters[key] = (window, used + 1)
        return True, quota.limit - used - 1, reset

    def _forget_old(self, window: int) -> None:
        # Counters of past windows count nothing any more; bounded memory however many tenants call.
        self.counters = {k: v for k, v in self.counters.items() if v[0] >= window}

    def quota_for(self, method: str) -> Quota | None:
        return self.reads if method in READ_METHODS else self.writes

    def middleware(self) -> DefineMiddleware:
        return DefineMiddleware(TenantRateLimitMiddleware, limiter=self)


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


class TenantRateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: TenantRateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant = _tenant_of(scope) if scope["type"] == ScopeType.HTTP else None
        quota = self.limiter.quota_for(str(scope.get("method"))) if tenant is not None else None
        if tenant is None or quota is None:
            await self.app(scope, receive, send)
            return
        allowed, remaining, reset = self.limiter.hit(quota, tenant, time.time())
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

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                mutable = MutableScopeHeaders.from_message(message)
                for name, value in headers.items():
                    mutable[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def limiter_from(reads: int | None, writes: int | None, window: int) -> TenantRateLimiter | None:
    if reads is None and writes is None:
        return None
    return TenantRateLimiter(
        reads=Quota("reads", reads, window) if reads is not None else None,
        writes=Quota("writes", writes, window) if writes is not None else None,
    )
