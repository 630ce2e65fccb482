"""CSV over HTTP: content negotiation between JSON and CSV, and the streamed CSV response."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from litestar import MediaType, Request
from litestar.response import Stream

from tally.domain.errors import NotAcceptable

MEDIA_TYPE = "text/csv"
CONTENT_TYPE = "text/csv; charset=utf-8; header=present"  # RFC 4180's optional header parameter


def wants_csv(request: Request[Any, Any, Any]) -> bool:
    """Whether the ``Accept`` header prefers ``text/csv`` to JSON (no header: JSON). One that allows neither is a
    406."""
    if all(name != b"accept" for name, _ in request.scope["headers"]):  # not request.headers: built on first use
        return False
    best = request.accept.best_match([MediaType.JSON, MEDIA_TYPE])
    if best is None:
        raise NotAcceptable.field(
            "Accept",
            f"'{request.headers['accept']}' allows neither {MediaType.JSON.value} nor {MEDIA_TYPE}: send "
            f"Accept: {MediaType.JSON.value} (or {MEDIA_TYPE} for CSV), or no Accept header",
        )
    return best == MEDIA_TYPE


def csv_response(chunks: AsyncIterator[bytes], filename: str, headers: Mapping[str, str] | None = None) -> Stream:
    # The Content-Type header, not media_type: Litestar lets the handler's media type (JSON) win over a Stream's.
    disposition = f'attachment; filename="{filename}"'
    return Stream(chunks, headers={**(headers or {}), "Content-Type": CONTENT_TYPE, "Content-Disposition": disposition})
