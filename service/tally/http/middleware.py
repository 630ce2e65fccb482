"""The one middleware every request goes through, its steps in order, declared in this one place.

It was four (five with rate limits) middleware layers: each one an awaited ASGI call, and two of them a wrapper
around ``send``. Merged, a request pays for one call and at most one ``send`` wrapper. The steps:

1. the request id (``tally.logs``): first, so every later line and answer carries it;
2. the text check (``tally.http.strict_input``): a NUL in the ``Authorization`` header is a 400 naming it, like
   one anywhere else, so it comes before the token;
3. the bearer token: Litestar's ``JWTAuth`` middleware does the work (its exclusions, ``TallyToken``'s verified
   cache, ``principal_from_token``); only its ``authenticate_request`` is called here, not its ASGI layer;
4. the tenant's rate limit, when one is set (``tally.http.rate_limit``);
5. the request metrics (``tally.metrics``): a request refused with 401 or 429 is counted by those refusals' own
   metrics, not as a request.

What Litestar does better stays Litestar's: the role and tenant check is the app's ``before_request`` hook
(``check_permission``, reading each route's ``requires``), inside the route's exception handling; a refusal raised
here is turned into problem details by Litestar's exception handler, as one raised in a handler is; the ``X-Request-ID``
header and the access log line are a ``before_send`` hook (``echo_request_id``), because a 401 or a 404 is
sent by that exception handler outside every middleware.
"""

from __future__ import annotations

import time

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware

# The exclusion rules of Litestar's own authentication middleware (paths, methods, the route's opt key).
from litestar.middleware._utils import should_bypass_middleware
from litestar.security.jwt import JWTAuthenticationMiddleware, Token
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from tally.http.auth import VERIFIED_CACHE_SIZE, Principal
from tally.http.rate_limit import TenantRateLimiter
from tally.http.strict_input import refuse_bad_text
from tally.logs import start_request
from tally.metrics import request_answered, request_started


class TallyMiddleware:
    """Every step of ``tally.http.middleware``'s list, in one ASGI layer."""

    def __init__(
        self, app: ASGIApp, *, authentication: DefineMiddleware, limiter: TenantRateLimiter | None, metrics: bool
    ) -> None:
        self.app = app
        # JWTAuth's middleware, made as Litestar would; its authenticate_request and exclusions are used.
        self.authentication: JWTAuthenticationMiddleware = authentication(app)  # type: ignore[assignment]
        self.limiter = limiter
        self.metrics = metrics
        self.verified: dict[bytes, tuple[Principal, Token, float]] = {}  # Authorization header: principal, token, exp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        start_request(scope)
        refuse_bad_text(scope)
        await self._authenticate(scope)
        headers = await self.limiter.admit(scope) if self.limiter is not None else None
        route = request_started(scope) if self.metrics else None
        if route is None and headers is None:
            await self.app(scope, receive, send)
            return
        status = 500  # until a response starts: an exception escaping the route is answered 500
        started = time.perf_counter()
        duration = 0.0

        async def answered_send(message: Message) -> None:
            nonlocal status, duration
            if message["type"] == "http.response.start":
                status = message["status"]
                if headers is not None:
                    mutable = MutableScopeHeaders.from_message(message)
                    for name, value in headers.items():
                        mutable[name] = value
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                duration = time.perf_counter() - started
            await send(message)

        try:
            await self.app(scope, receive, answered_send)
        finally:
            if route is not None:
                request_answered(route, status, duration or time.perf_counter() - started)

    async def _authenticate(self, scope: Scope) -> None:
        auth = self.authentication
        if should_bypass_middleware(
            exclude_http_methods=auth.exclude_http_methods,
            exclude_opt_key=auth.exclude_opt_key,
            exclude_path_pattern=auth.exclude,
            scope=scope,
            scopes=auth.scopes,
        ):
            return
        header = next((value for name, value in scope["headers"] if name.lower() == b"authorization"), None)
        known = self.verified.get(header) if header is not None else None
        if known is not None and time.time() < known[2]:
            scope["user"], scope["auth"] = known[0], known[1]
            return
        result = await auth.authenticate_request(ASGIConnection(scope))
        scope["user"] = result.user
        scope["auth"] = result.auth
        # The header's principal, remembered until the token expires: reading the header through Litestar's
        # connection, the token's own cache and the claims cost a totals read 4% of its instructions (callgrind).
        # Not during a secret rotation: each use of the previous secret is checked against its grace period and
        # counted (``TallyToken``).
        if header is not None and getattr(auth.token_cls, "previous_secret", None) is None:
            if len(self.verified) >= VERIFIED_CACHE_SIZE:
                self.verified.clear()
            self.verified[header] = (result.user, result.auth, result.auth.exp.timestamp())


def middleware(
    *, authentication: DefineMiddleware, limiter: TenantRateLimiter | None, metrics: bool
) -> list[DefineMiddleware]:
    """The app's middleware list: ``TallyMiddleware`` alone."""
    return [DefineMiddleware(TallyMiddleware, authentication=authentication, limiter=limiter, metrics=metrics)]
