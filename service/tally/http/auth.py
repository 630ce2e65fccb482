"""Bearer tokens, roles and the tenant guard.

Tokens are HS256 JWTs checked by Litestar's ``JWTAuth`` middleware; ``principal_from_token`` turns the
claims into a ``Principal``, and ``requires`` is the permission every API route declares (checked by
``check_permission``, the app's ``before_request`` hook).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Self, cast
from uuid import UUID

import jwt
import msgspec
from litestar import Litestar, Request
from litestar.connection import ASGIConnection
from litestar.exceptions import ImproperlyConfiguredException, NotAuthorizedException, PermissionDeniedException
from litestar.security.jwt import Token

from tally.domain.errors import InvalidInput
from tally.metrics import PREVIOUS_SECRET_ACCEPTED

ALGORITHM = "HS256"


class Role(StrEnum):
    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"
    PLATFORM = "platform"


class Permission(StrEnum):
    READ_USAGE = "read usage"
    RECORD_USAGE = "record usage"
    MANAGE_CATALOG = "manage the feature catalog"
    MANAGE_PLANS = "manage plans and tenants' plans"
    MANAGE_WEBHOOKS = "manage webhook endpoints and deliveries"
    CLOSE_PERIODS = "close billing periods"


ALLOWED: dict[Permission, frozenset[Role]] = {
    Permission.READ_USAGE: frozenset(Role),
    Permission.RECORD_USAGE: frozenset({Role.ADMIN, Role.OWNER, Role.PLATFORM}),
    Permission.MANAGE_CATALOG: frozenset({Role.PLATFORM}),
    Permission.MANAGE_PLANS: frozenset({Role.PLATFORM}),
    Permission.MANAGE_WEBHOOKS: frozenset({Role.PLATFORM}),
    Permission.CLOSE_PERIODS: frozenset({Role.PLATFORM}),
}


VERIFIED_CACHE_SIZE = 4096


class TallyToken(Token):
    """Litestar's ``Token``, with three changes (pass as ``JWTAuth(token_cls=TallyToken.accepting(...))``):

    - it insists on an ``iat`` claim; the contract requires only ``sub``, ``exp``, ``role`` and ``tenant_id``,
      so a token without ``iat`` counts as issued now;
    - verifying the signature was the largest single cost of a totals request, and callers (billing pages,
      services) send the same token again and again: a token verified with a secret is remembered until
      its ``exp`` (a bounded cache, emptied when full), so only its expiry is checked again;
    - during a secret rotation, a token that the current secret does not verify is tried with the previous
      secret, until ``previous_until``. The cache is keyed by the secret too, and the grace period is checked
      before every use of the previous secret, cached or not: no previous-secret token outlives it.
    """

    _verified: ClassVar[dict[tuple[str, str, str], Token]] = {}
    previous_secret: ClassVar[str | None] = None
    previous_until: ClassVar[datetime | None] = None

    @classmethod
    def accepting(cls, previous_secret: str | None, previous_until: datetime | None) -> type[TallyToken]:
        """This class, also accepting tokens signed with ``previous_secret`` until ``previous_until`` (a subclass:
        JWTAuth takes a token class, and each app has its own secrets)."""
        if previous_secret is None or previous_until is None:
            return cls
        attributes = {"previous_secret": previous_secret, "previous_until": previous_until}
        return type(cls.__name__, (cls,), attributes)

    @classmethod
    def decode(cls, encoded_token: str, secret: str, algorithm: str, *args: Any, **kwargs: Any) -> Self:
        try:
            return cls._decode_rotating(encoded_token, secret, algorithm, *args, **kwargs)
        except NotAuthorizedException as exc:
            # Litestar says "Invalid token" for every failure; an expired one deserves its own words.
            if isinstance(exc.__cause__, jwt.ExpiredSignatureError):
                raise NotAuthorizedException("token expired") from exc.__cause__
            raise

    @classmethod
    def _decode_rotating(cls, encoded_token: str, secret: str, algorithm: str, *args: Any, **kwargs: Any) -> Self:
        try:
            return cls._decode_cached(encoded_token, secret, algorithm, *args, **kwargs)
        except NotAuthorizedException as exc:
            previous, until = cls.previous_secret, cls.previous_until
            # An expired token's signature was good (PyJWT checks it first): no other secret needs a try.
            expired = isinstance(exc.__cause__, jwt.ExpiredSignatureError)
            if expired or previous is None or until is None or time.time() >= until.timestamp():
                raise
            token = cls._decode_cached(encoded_token, previous, algorithm, *args, **kwargs)
            PREVIOUS_SECRET_ACCEPTED.inc()
            return token

    @classmethod
    def _decode_cached(cls, encoded_token: str, secret: str, algorithm: str, *args: Any, **kwargs: Any) -> Self:
        key = (encoded_token, secret, algorithm)
        known = cls._verified.get(key)
        if known is not None and known.exp.timestamp() > time.time():
            return cast("Self", known)
        token = super().decode(encoded_token, secret, algorithm, *args, **kwargs)
        if len(cls._verified) >= VERIFIED_CACHE_SIZE:
            cls._verified.clear()
        cls._verified[key] = token
        return token

    @classmethod
    def _decode_datetime_claim(cls, payload: dict[str, Any], claim: str) -> datetime:
        if claim == "iat" and claim not in payload:
            return datetime.now(UTC)
        return super()._decode_datetime_claim(payload, claim)


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the token's subject, role and (except for ``platform``) tenant."""

    subject: str
    role: Role
    tenant_id: UUID | None


# async although it awaits nothing: Litestar would run a sync user handler in a worker thread, per request.
async def principal_from_token(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """Check the claims Litestar leaves to us: a known ``role`` and, unless platform, a UUID ``tenant_id``."""
    try:
        role = Role(str(token.extras.get("role")))
    except ValueError:
        raise NotAuthorizedException("Invalid token: claim 'role' is missing or not a known role") from None
    tenant_id: UUID | None = None
    if role is not Role.PLATFORM:
        try:
            tenant_id = UUID(str(token.extras.get("tenant_id")))
        except ValueError:
            raise NotAuthorizedException("Invalid token: claim 'tenant_id' is missing or not a UUID") from None
    return Principal(subject=token.sub, role=role, tenant_id=tenant_id)


def parse_tenant_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidInput.field("tenant_id", f"'{raw}' is not a UUID") from None


PERMISSION = "permission"  # the key of a route's ``opt`` that names what it needs


def requires(permission: Permission) -> dict[str, Permission]:
    """A route's ``opt``: the caller's role must grant ``permission``, and a ``{tenant_id}`` in the path must be its
    own. ``check_permission``, the app's ``before_request`` hook, checks it before the handler runs.

    Not a Litestar guard: Litestar copies the route handler for every guard it calls (``copy(self)`` in
    ``authorize_connection``), on every request, which was 5% of a totals read's instructions (callgrind). A
    ``before_request`` hook runs at the same point, inside the route's exception handling (a refusal is a problem
    answer, counted by the request metrics), and a handler's ``opt`` is where Litestar keeps per-route data."""
    return {PERMISSION: permission}


async def check_permission(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: the check ``requires`` asks for, of the route the request was routed to (none when
    it asks for nothing). Async although it awaits nothing: Litestar would run a sync hook in its thread pool."""
    permission: Permission | None = request.route_handler.opt.get(PERMISSION)
    if permission is None:
        return
    raw_tenant = request.path_params.get("tenant_id")
    authorize(request.user, permission, parse_tenant_id(raw_tenant) if raw_tenant is not None else None)


def check_permissions_are_checked(app: Litestar) -> None:
    """Refuse to build an app where a route that asks for a permission would not have it checked: Litestar runs only
    the nearest layer's ``before_request`` hook, so a controller's or a route's own hook would replace
    ``check_permission`` and silently let every role in."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if PERMISSION in handler.opt and handler.resolve_before_request() is not check_permission:
                raise ImproperlyConfiguredException(
                    f"{handler.handler_name} asks for a permission, but its before_request hook is not check_permission"
                )


def authorize(principal: Principal, permission: Permission, tenant_id: UUID | None) -> None:
    """The rule behind ``requires`` (the usage pages apply it too): ``PermissionDeniedException`` unless the
    role grants ``permission`` and ``tenant_id`` (when given) is the principal's own, or the role is platform."""
    if principal.role not in ALLOWED[permission]:
        raise PermissionDeniedException(f"role '{principal.role.value}' may not {permission.value}")
    if tenant_id is not None and principal.role is not Role.PLATFORM and principal.tenant_id != tenant_id:
        raise PermissionDeniedException("this token is not valid for the tenant in the path")


def issue_token(
    secret: str,
    role: Role,
    tenant_id: UUID | None,
    subject: str = "tally-cli",
    ttl: timedelta = timedelta(hours=1),
) -> str:
    """A signed token, as ``tally token`` prints it."""
    if role is not Role.PLATFORM and tenant_id is None:
        raise ValueError(f"role '{role.value}' needs a tenant id")
    now = datetime.now(UTC)
    claims: dict[str, Any] = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl}
    if tenant_id is not None:
        claims["tenant_id"] = str(tenant_id)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def generate_secret() -> str:
    return secrets.token_urlsafe(32)
