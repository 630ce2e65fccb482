"""Signing in to the usage pages: a token (pasted, or from a sign-in link) kept in an HttpOnly cookie, read with
the API's own token rules (``TokenReader``) and tenant guard (``authorize``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

import jwt
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import Body, FromQuery
from litestar.response import Redirect, Template
from litestar.security.jwt import JWTAuth, Token

from tally.http.auth import Permission, Principal, authorize, principal_from_token

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


def reason_of(exc: NotAuthorizedException) -> str:
    return "expired" if isinstance(exc.__cause__, jwt.ExpiredSignatureError) else "invalid"


async def signed_in(request: Request[Any, Any, Any], tokens: TokenReader) -> Principal | Redirect:
    """The principal of the session cookie, or the redirect back to sign-in that says why there is none."""
    encoded = request.cookies.get(COOKIE)
    if not encoded:
        return back_to_sign_in("missing")
    try:
        principal, _ = await tokens.read(encoded, request)
    except NotAuthorizedException as exc:
        return back_to_sign_in(reason_of(exc))
    return principal


def back_to_sign_in(reason: str) -> Redirect:
    redirect = Redirect(f"{SIGN_IN_PATH}?reason={reason}", status_code=303, headers=HEADERS)
    redirect.delete_cookie(COOKIE, path="/usage")
    return redirect


async def tenant_reader(
    request: Request[Any, Any, Any], tokens: TokenReader, tenant_id: str
) -> tuple[Principal, UUID] | Response[Any]:
    """The signed-in principal and the tenant of the path it may read, or the response that refuses it."""
    principal = await signed_in(request, tokens)
    if isinstance(principal, Redirect):
        return principal
    try:
        tenant = UUID(tenant_id)
    except ValueError:
        return page("refused.html", 400, principal=principal, detail=f"'{tenant_id}' is not a tenant id (a UUID).")
    try:
        authorize(principal, Permission.READ_USAGE, tenant)
    except PermissionDeniedException:
        detail = "Your token does not let you see this tenant's usage."
        return page("refused.html", 403, principal=principal, detail=detail)
    return principal, tenant


def page(name: str, status_code: int = 200, **context: Any) -> Template:
    return Template(name, context=context, status_code=status_code, headers=HEADERS)


class SignIn(Controller):
    """``/usage/sign-in``, ``/usage/sign-out`` and ``/usage/``: where a browser signs in, out, and lands."""

    @get("/sign-in")
    async def sign_in_form(self, reason: FromQuery[str | None] = None) -> Response[Any]:
        status = 401 if reason in REASONS and reason != "signed-out" else 200
        return page("sign_in.html", status, message=REASONS.get(reason or ""))

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
            return back_to_sign_in("empty")
        try:
            principal, token = await tokens.read(encoded, request)
        except NotAuthorizedException as exc:
            return back_to_sign_in(reason_of(exc))
        try:
            target = UUID(tenant.strip()) if tenant.strip() else principal.tenant_id
        except ValueError:
            return back_to_sign_in("tenant")
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
        return back_to_sign_in("signed-out")

    @get("/")
    async def index(
        self,
        request: Request[Any, Any, Any],
        tokens: NamedDependency[TokenReader],
        tenant: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """Where a sign-in without a tenant lands: a tenant token goes to its tenant, a platform token picks one."""
        principal = await signed_in(request, tokens)
        if isinstance(principal, Redirect):
            return principal
        try:
            target = UUID(tenant.strip()) if tenant else principal.tenant_id
        except ValueError:
            return page("pick_tenant.html", 400, principal=principal, error=REASONS["tenant"])
        if target:
            return Redirect(f"/usage/{target}", status_code=303, headers=HEADERS)
        return page("pick_tenant.html", principal=principal)
