"""The usage pages: sign in with a token (kept in a cookie), then one tenant's usage per period.

They live outside the API's bearer-token middleware (``^/usage`` is excluded in ``create_app``) and check
the cookie themselves, with the API's own token rules (``TokenReader``) and tenant guard (``authorize``).
The data comes from the same services as the API's routes, not over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache, partial
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import available_timezones

import jwt
import msgspec
from litestar import Controller, Request, Response, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.security.jwt import JWTAuth, Token

from tally.catalog.service import CatalogService
from tally.domain.errors import InvalidInput
from tally.domain.usage import WindowSize
from tally.http.auth import Permission, Principal, authorize, principal_from_token
from tally.http.csv import csv_response
from tally.metering.periods import zone
from tally.metering.totals import TotalsQuery
from tally.plans.entitlements import Entitlements
from tally.ui.view import (
    MAX_CUSTOM_DAYS,
    RECENT_ALERTS,
    PeriodChoice,
    alert_rows,
    breakdown_rows,
    choose_breakdown,
    choose_period,
    feature_cards,
    page_link,
    period_label,
)
from tally.usage import exports
from tally.usage.reading import UsageReader
from tally.webhooks.service import WebhookService

COOKIE = "tally_usage_token"
SIGN_IN_PATH = "/usage/sign-in"
# Why the sign-in form is shown again; the redirect carries only this code, never a token or free text.
REASONS = {
    "missing": "Sign in with a token to see usage.",
    "expired": "Your token has expired. Open a fresh sign-in link, or paste a fresh token: ask your Tally operator.",
    "invalid": "That token was not accepted. Check that you pasted all of it, and that it is a Tally token.",
    "empty": "Paste a token first.",
    "tenant": "That tenant id is not a UUID.",
    "signed-out": "You are signed out.",
}
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def sign_in_link(base_url: str, token: str) -> str:
    """The link that signs a browser in with ``token`` (``tally token --link``, the demo's output).

    The token rides in the fragment (``#token=…``), which a browser never sends: it reaches no server, proxy or
    access log. The sign-in page's script takes it from there, clears it from the address bar and posts the form.
    That POST comes from our own page, so it is a same-site request even when the link was clicked on another
    site; a link that signed in by itself (a GET with the token, then a redirect) would not be, and the
    SameSite=Strict cookie would be withheld on that redirect.
    """
    return f"{base_url.rstrip('/')}{SIGN_IN_PATH}#{urlencode({'token': token})}"


def usage_pages(auth: JWTAuth[Principal]) -> Router:
    """The pages under ``/usage``, checking tokens exactly as ``auth`` (the API's middleware) does."""
    return Router(
        "/usage",
        route_handlers=[UsagePages],
        dependencies={"tokens": Provide(lambda: TokenReader(auth), sync_to_thread=False)},
        include_in_schema=False,
    )


class SignInForm(msgspec.Struct, kw_only=True):
    token: str = ""
    tenant: str = ""


class TokenReader:
    """Reads a token with the API's own rules: ``auth`` is the app's ``JWTAuth``, and the arguments are the ones
    ``JWTAuthenticationMiddleware`` passes. (A plain class: Litestar validates dependencies, and would try to
    read the ``JWTAuth`` dataclass's fields.)"""

    def __init__(self, auth: JWTAuth[Principal]) -> None:
        self.auth = auth

    async def read(self, encoded: str, request: Request[Any, Any, Any]) -> tuple[Principal, Token]:
        auth = self.auth
        token = auth.token_cls.decode(
            encoded_token=encoded,
            secret=auth.token_secret,
            algorithm=auth.algorithm,
            audience=auth.accepted_audiences,
            issuer=auth.accepted_issuers,
            require_claims=auth.require_claims,
            verify_exp=auth.verify_expiry,
            verify_nbf=auth.verify_not_before,
            strict_audience=auth.strict_audience,
        )
        return await principal_from_token(token, request), token


def _reason(exc: NotAuthorizedException) -> str:
    return "expired" if isinstance(exc.__cause__, jwt.ExpiredSignatureError) else "invalid"


async def _signed_in(request: Request[Any, Any, Any], tokens: TokenReader) -> Principal | Redirect:
    """The principal of the session cookie, or the redirect back to sign-in that says why there is none."""
    encoded = request.cookies.get(COOKIE)
    if not encoded:
        return _back_to_sign_in("missing")
    try:
        principal, _ = await tokens.read(encoded, request)
    except NotAuthorizedException as exc:
        return _back_to_sign_in(_reason(exc))
    return principal


def _back_to_sign_in(reason: str) -> Redirect:
    redirect = Redirect(f"{SIGN_IN_PATH}?reason={reason}", status_code=303, headers=HEADERS)
    redirect.delete_cookie(COOKIE, path="/usage")
    return redirect


async def _reader(
    request: Request[Any, Any, Any], tokens: TokenReader, tenant_id: str
) -> tuple[Principal, UUID] | Response[Any]:
    """The signed-in principal and the tenant of the path it may read, or the response that refuses it."""
    principal = await _signed_in(request, tokens)
    if isinstance(principal, Redirect):
        return principal
    try:
        tenant = UUID(tenant_id)
    except ValueError:
        return _page("refused.html", 400, principal=principal, detail=f"'{tenant_id}' is not a tenant id (a UUID).")
    try:
        authorize(principal, Permission.READ_USAGE, tenant)
    except PermissionDeniedException:
        detail = "Your token does not let you see this tenant's usage."
        return _page("refused.html", 403, principal=principal, detail=detail)
    return principal, tenant


def _page(name: str, status_code: int = 200, **context: Any) -> Template:
    return Template(name, context=context, status_code=status_code, headers=HEADERS)


@cache
def _zone_names() -> list[str]:
    return sorted(available_timezones())


class Shown(msgspec.Struct, frozen=True):
    """What a usage page (and its CSV download) is asked to show: the period form's fields, the breakdown."""

    period: str
    start: str | None
    end: str | None
    tz: str
    breakdown: str | None


def provide_shown(
    period: FromQuery[str] = PeriodChoice.THIS_MONTH.value,
    start: FromQuery[str | None] = None,
    end: FromQuery[str | None] = None,
    tz: FromQuery[str] = "UTC",
    breakdown: FromQuery[str | None] = None,
) -> Shown:
    return Shown(period, start, end, tz, breakdown)


class UsagePages(Controller):
    dependencies = {
        "shown": Provide(provide_shown, sync_to_thread=False),
    }

    @get("/sign-in")
    async def sign_in_form(self, reason: FromQuery[str | None] = None) -> Response[Any]:
        status = 401 if reason in REASONS and reason != "signed-out" else 200
        return _page("sign_in.html", status, message=REASONS.get(reason or ""))

    @post("/sign-in")
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        tokens: NamedDependency[TokenReader],
        data: Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        return await self._sign_in(request, tokens, data.token, data.tenant)

    async def _sign_in(
        self, request: Request[Any, Any, Any], tokens: TokenReader, encoded: str, tenant: str
    ) -> Response[Any]:
        encoded = encoded.strip()
        if not encoded:
            return _back_to_sign_in("empty")
        try:
            principal, token = await tokens.read(encoded, request)
        except NotAuthorizedException as exc:
            return _back_to_sign_in(_reason(exc))
        try:
            target = UUID(tenant.strip()) if tenant.strip() else principal.tenant_id
        except ValueError:
            return _back_to_sign_in("tenant")
        redirect = Redirect(f"/usage/{target}" if target else "/usage", status_code=303, headers=HEADERS)
        redirect.set_cookie(
            COOKIE,
            encoded,
            max_age=max(int(token.exp.timestamp() - datetime.now(UTC).timestamp()), 0),
            path="/usage",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return redirect

    @post("/sign-out")
    async def sign_out(self) -> Redirect:
        return _back_to_sign_in("signed-out")

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        tokens: NamedDependency[TokenReader],
        tenant: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """Where a sign-in without a tenant lands: a tenant token goes to its tenant, a platform token picks one."""
        principal = await _signed_in(request, tokens)
        if isinstance(principal, Redirect):
            return principal
        try:
            target = UUID(tenant.strip()) if tenant else principal.tenant_id
        except ValueError:
            return _page("pick_tenant.html", 400, principal=principal, error=REASONS["tenant"])
        if target:
            return Redirect(f"/usage/{target}", status_code=303, headers=HEADERS)
        return _page("pick_tenant.html", principal=principal)

    @get("/{tenant_id:str}")
    async def usage_page(
        self,
        request: Request[Any, Any, Any],
        tokens: NamedDependency[TokenReader],
        usage: NamedDependency[UsageReader],
        catalog: NamedDependency[CatalogService],
        entitlements: NamedDependency[Entitlements],
        webhooks: NamedDependency[WebhookService],
        tenant_id: FromPath[str],
        shown: NamedDependency[Shown],
    ) -> Response[Any]:
        reader = await _reader(request, tokens, tenant_id)
        if isinstance(reader, Response):
            return reader
        principal, tenant = reader
        form = {"period": shown.period, "start": shown.start or "", "end": shown.end or "", "tz": shown.tz}
        context: dict[str, Any] = {
            "principal": principal,
            "tenant": tenant,
            "form": form,
            "zones": _zone_names(),
            "max_days": MAX_CUSTOM_DAYS,
        }
        try:
            zone_info = zone(shown.tz)
            chosen = choose_period(shown.period, shown.start, shown.end, zone_info, now=datetime.now(UTC))
        except InvalidInput as exc:
            return _page("usage.html", 400, error=exc.detail, **context)
        query = partial(
            TotalsQuery.build,
            now=datetime.now(UTC),
            period_start=chosen.start,
            period_end=chosen.end,
            timezone=zone_info,
        )
        now = datetime.now(UTC)
        totals = await usage.totals(tenant, query())
        daily = await usage.totals(tenant, query(window_size=WindowSize.DAY))
        features = await catalog.list_features()
        limits = await entitlements.entitlements(tenant, None, now)
        tenant_zone = await entitlements.timezone(tenant)
        cards = feature_cards(features, totals, daily, zone_info, limits, now, chosen, tenant_zone)
        alerts = alert_rows(await webhooks.recent_alerts(tenant, RECENT_ALERTS), zone_info)
        form.update(start=chosen.first_day.isoformat(), end=chosen.last_day.isoformat())
        # A breakdown the catalog does not offer (an old link, a typo) is explained; the page still shows.
        split, rows, breakdown_error = None, [], None
        try:
            split = choose_breakdown(shown.breakdown, features)
            if split is not None:
                grouped = await usage.totals(
                    tenant, query(feature_keys=[split.feature_key], group_by=[split.dimension])
                )
                rows = breakdown_rows(grouped, split.dimension)
        except InvalidInput as exc:
            split, rows, breakdown_error = None, [], exc.detail
        return _page(
            "usage.html",
            cards=cards,
            alerts=alerts,
            any_usage=any(card.total for card in cards),
            period_text=period_label(chosen),
            breakdown=split,
            breakdown_rows=rows,
            breakdown_error=breakdown_error,
            link=partial(page_link, tenant, form),
            csv_link=page_link(tenant, form, split.param if split else None, csv=True),
            **context,
        )

    @get("/{tenant_id:str}/usage.csv")
    async def usage_csv(
        self,
        request: Request[Any, Any, Any],
        tokens: NamedDependency[TokenReader],
        usage: NamedDependency[UsageReader],
        catalog: NamedDependency[CatalogService],
        tenant_id: FromPath[str],
        shown: NamedDependency[Shown],
    ) -> Response[Any]:
        """The "Download CSV" link: the page's period totals per feature, or its breakdown's rows, as the API's
        usage-totals CSV."""
        reader = await _reader(request, tokens, tenant_id)
        if isinstance(reader, Response):
            return reader
        principal, tenant = reader
        try:
            zone_info = zone(shown.tz)
            chosen = choose_period(shown.period, shown.start, shown.end, zone_info, now=datetime.now(UTC))
            split = choose_breakdown(shown.breakdown, await catalog.list_features())
        except InvalidInput as exc:
            return _page("refused.html", 400, principal=principal, detail=exc.detail)
        group_by = [split.dimension] if split else []
        query = TotalsQuery.build(
            now=datetime.now(UTC),
            feature_keys=[split.feature_key] if split else None,
            period_start=chosen.start,
            period_end=chosen.end,
            timezone=zone_info,
            group_by=group_by,
        )
        name = f"usage-{tenant}-{chosen.first_day}-{chosen.last_day}"
        name += f"-{split.feature_key}-by-{split.dimension}" if split else ""
        return csv_response(exports.totals_csv(await usage.totals(tenant, query), group_by), f"{name}.csv", HEADERS)
