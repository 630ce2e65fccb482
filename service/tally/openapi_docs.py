"""Problem-details responses for the OpenAPI document, shared by every route."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec

from tally.domain.models import Problem

_WHEN = {
    400: "Malformed or out-of-range input; `detail` and `errors` name the field.",
    401: "No bearer token, or an invalid, expired or unsigned one.",
    403: "The token's role lacks the right, or it belongs to another tenant.",
    404: "No such event, or no plan, for this tenant.",
    409: "An idempotency key reused with different content, an immutable catalog field changed, or a batch that "
    "would take usage over a rejecting limit (`urn:tally:problem:limit-exceeded`, naming `events[i]`).",
    413: "The request body is larger than the configured limit.",
    429: "The tenant's rate limit is used up (only when `TALLY_RATE_LIMIT_*` is set); retry after `Retry-After`.",
    503: "The database is unreachable; retry after `Retry-After` seconds.",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Document ``statuses`` (plus 503, which any database-backed route can answer) as problem details."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_WHEN[status],
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in sorted({*statuses, 503})
    }
