"""The middleware chain of every request, outermost first, declared in this one place."""

from __future__ import annotations

from litestar.types import Middleware

from tally.http.strict_input import refuse_bad_text
from tally.logs import request_id_middleware
from tally.metrics import RequestMetrics


def chain(*, authentication: Middleware, rate_limit: Middleware | None, metrics: bool) -> list[Middleware]:
    """The request id first (every later line and answer carries it), then the text check (a NUL in the
    Authorization header is a 400 naming it, like one anywhere else), then the bearer token, the tenant's rate
    limit, and the request metrics: a request refused with 401 or 429 is counted by those refusals' own metrics,
    not as a request."""
    return [
        request_id_middleware,
        refuse_bad_text,
        authentication,
        *([rate_limit] if rate_limit is not None else []),
        *([RequestMetrics] if metrics else []),
    ]
