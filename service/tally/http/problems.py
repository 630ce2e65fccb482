"""The one mapping from exceptions to RFC 9457 problem details.

Litestar's ``ProblemDetailsPlugin`` sends the responses; the converters here give every answer a
``type``, a short ``title`` and a ``detail`` that names the field at fault (the plugin's own conversion
of a validation error says only "Bad Request" and puts the request path in the title).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import Enum
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from tally.db.dialects import transient
from tally.domain.errors import TallyError, describe
from tally.domain.problems import FieldError
from tally.metrics import DATABASE_ERRORS, RATE_LIMITED, UNAUTHORIZED

logger = logging.getLogger("tally.http.problems")

PROBLEM = "urn:tally:problem:"


def _problem(
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemDetailsException:
    extra = {"errors": msgspec.to_builtins(errors)} if errors else None
    return ProblemDetailsException(
        status_code=status,
        type_=f"{PROBLEM}{slug}",
        title=title or HTTPStatus(status).phrase,
        detail=detail,
        extra=extra,
        headers=headers,
    )


def _from_domain(exc: TallyError) -> ProblemDetailsException:
    problem = _problem(exc.status, exc.slug, exc.detail, title=exc.title, errors=exc.errors or None)
    if exc.members:
        problem.extra = {**msgspec.to_builtins(exc.members), **(problem.extra or {})}  # type: ignore[dict-item]
    return problem


def validation_problem(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's validation errors (path and query parameters) as problem details naming each field. An exception
    handler, not an entry of the plugin's map: the datetime message depends on what the query really held."""
    errors = [_field_error(item, request) for item in exc.extra or [] if isinstance(item, Mapping)]
    if not errors:
        return _problem(400, "invalid-input", str(exc.detail), title="Invalid input").to_response(request)
    return _problem(400, "invalid-input", describe(errors), title="Invalid input", errors=errors).to_response(request)


def _field_error(item: Mapping[str, Any], request: Request[Any, Any, Any]) -> FieldError:
    """Litestar reports ``{"message": ..., "key": ..., "source": ...}``; msgspec's body messages end in
    ``- at `$.events[0].quantity```: turn either into a field path and a plain message."""
    message = str(item.get("message", "invalid value"))
    text, _, path = message.partition(" - at `$")
    if path:
        field = path.rstrip("`").lstrip(".") or "body"
    else:
        field = str(item.get("key") or item.get("source") or "body")
    if field == "data" and item.get("source") == "body":  # Litestar found no body at all
        return FieldError(field="body", message="is missing: send a JSON object")
    raw = request.query_params.get(field) if item.get("source") == "query" else None
    if text.startswith("Invalid enum value") and (choices := _choices(request, field)):
        text = f"'{raw}' is not one of {', '.join(choices)}"
    if "RFC3339" in text and raw is not None:
        text = f"'{raw}' is not an ISO-8601 datetime"
        if " " in raw:  # a '+' of the query string, decoded to a space
            text += " (an offset's '+' arrives as a space in a query string: send it as %2B, or use 'Z')"
    return FieldError(field=field, message=text)


def _choices(request: Request[Any, Any, Any], name: str) -> list[str]:
    """The values of the enum a handler's parameter ``name`` takes (Litestar's message names none of them)."""
    parameter = request.route_handler.parsed_fn_signature.parameters.get(name)
    kinds = [parameter, *parameter.inner_types] if parameter is not None else []
    enum = next(
        (k.annotation for k in kinds if isinstance(k.annotation, type) and issubclass(k.annotation, Enum)), None
    )
    return [str(member.value) for member in enum] if enum is not None else []


def _from_not_authorized(exc: NotAuthorizedException) -> ProblemDetailsException:
    UNAUTHORIZED.inc()
    return _problem(
        401,
        "unauthorized",
        str(exc.detail) or "a valid bearer token is required",
        headers={"WWW-Authenticate": 'Bearer realm="tally"'},
    )


def _from_forbidden(exc: PermissionDeniedException) -> ProblemDetailsException:
    return _problem(403, "forbidden", str(exc.detail))


def _from_rate_limit(exc: TooManyRequestsException) -> ProblemDetailsException:
    RATE_LIMITED.inc()
    return _problem(429, "rate-limited", str(exc.detail), headers=exc.headers)


def _from_http(exc: HTTPException) -> ProblemDetailsException:
    """Litestar's own answers (no such route, wrong method, a malformed request): a Tally type from the status."""
    status = exc.status_code
    detail = (
        str(exc.detail) if exc.detail and exc.detail != HTTPStatus(status).phrase else HTTPStatus(status).description
    )
    return _problem(status, HTTPStatus(status).phrase.lower().replace(" ", "-"), detail, headers=exc.headers)


def problem_details_plugin(retry_after_seconds: int, max_body_bytes: int) -> ProblemDetailsPlugin:
    def too_large(_: RequestEntityTooLarge) -> ProblemDetailsException:
        return _problem(
            413,
            "body-too-large",
            f"the request body is larger than the limit of {max_body_bytes} bytes (TALLY_MAX_BODY_BYTES); "
            "send fewer events per request",
            title="Body too large",
        )

    def unavailable(exc: Exception) -> ProblemDetailsException:
        logger.warning("database unavailable: %s", type(exc).__name__)
        DATABASE_ERRORS.inc()
        return _problem(
            503,
            "database-unavailable",
            "the database is unreachable; retry after the given delay",
            headers={"Retry-After": str(retry_after_seconds)},
        )

    def internal(exc: Exception) -> ProblemDetailsException:
        # Which errors mean "the database cannot serve us now" is the dialects' knowledge; it also looks
        # through advanced-alchemy's RepositoryError to the SQLAlchemy error it wraps.
        if transient(exc):
            return unavailable(exc)
        # Only the type: a message may carry SQL, parameters or secrets.
        logger.error("unhandled error: %s", type(exc).__name__)
        return _problem(500, "internal-error", "an internal error occurred")

    mapping: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
        TallyError: _from_domain,
        RequestEntityTooLarge: too_large,
        NotAuthorizedException: _from_not_authorized,
        PermissionDeniedException: _from_forbidden,
        TooManyRequestsException: _from_rate_limit,
        HTTPException: _from_http,
        Exception: internal,
    }
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=mapping))
