"""Query and path parameters that several routes declare alike: the tenant, repeatable text lists, datetimes."""

from __future__ import annotations

import re
from typing import Annotated, Any
from uuid import UUID

from litestar import Request
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import Parameter

from tally.domain.errors import InvalidInput
from tally.domain.keys import NO_NUL

# Litestar converts query values leniently: a number such as 0.5 or -1 becomes a Unix timestamp. The contract
# speaks of ISO-8601 datetimes only (found by schemathesis).
NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def iso_datetimes_only(request: Request[Any, Any, Any], *names: str) -> None:
    if not _maybe_numbers(request.scope["query_string"], {name.encode() for name in names}):
        return
    for name in names:
        raw = request.query_params.get(name)
        if raw is not None and NUMBER.fullmatch(raw):
            raise InvalidInput.field(name, f"'{raw}' is a number, not an ISO-8601 datetime")


def _maybe_numbers(query: bytes, names: set[bytes]) -> bool:
    """Whether a value of ``names`` in the raw query string may be a number. A value holding a literal ``T`` or
    ``t`` (RFC 3339's date-time separator) is none, whatever its escapes decode to; a name with an escape or a
    ``+`` is not matched here, so it is taken as one that may be. Scanning the raw string was a twentieth of a
    totals read's CPU less than building the decoded query parameters for every read."""
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if b"%" in name or b"+" in name:
            return True
        if name in names and b"T" not in value and b"t" not in value:
            return True
    return False


# A repeatable text parameter's schema. Litestar leaves the items' constraints out of a list parameter's schema
# (msgspec Meta on the item type is dropped), so the schema states them itself.
TEXT_LIST = {
    "one_of": [
        Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING, pattern=NO_NUL)),
        Schema(type=OpenAPIType.NULL),
    ]
}

TENANT = "$request.path.tenant_id"  # a link's value: the same tenant as the request it follows

TenantId = Annotated[UUID, Parameter(description="The tenant whose usage is recorded or read.")]

Cursor = Annotated[
    str | None,
    Parameter(
        description="`next_cursor` of the previous page; a cursor this API did not return is a 400.",
        max_length=512,
        pattern=NO_NUL,
    ),
]
"""A page's position: the ``next_cursor`` of the page before it."""
