"""Problem-details responses for the OpenAPI document, shared by every route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Link, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.typing import FieldDefinition

from tally.domain.problems import Problem
from tally.http.csv import MEDIA_TYPE as CSV

_WHEN = {
    400: "Malformed or out-of-range input; `detail` and `errors` name the field.",
    401: "No bearer token, or an invalid, expired or unsigned one.",
    403: "The token's role lacks the right, or it belongs to another tenant.",
    404: "No such event, or no plan, for this tenant.",
    406: "The `Accept` header allows neither `application/json` nor `text/csv`.",
    409: "An idempotency key reused with different content, an immutable catalog field changed, or a batch that "
    "would take usage over a rejecting limit (`urn:tally:problem:limit-exceeded`, naming `events[i]`).",
    413: "The request body is larger than the configured limit.",
    415: "The body is not sent as `Content-Type: application/json`.",
    429: "The tenant's rate limit is used up (only when `TALLY_RATE_LIMIT_*` is set); retry after `Retry-After`.",
    503: "The database is unreachable; retry after `Retry-After` seconds.",
}


def problems(*statuses: int, body: bool = False) -> dict[int, ResponseSpec]:
    """Document ``statuses`` (plus 503, which any database-backed route can answer) as problem details; a route
    that takes a JSON ``body`` also answers 413 (too large) and 415 (not JSON)."""
    statuses = (*statuses, 413, 415) if body else statuses
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_WHEN[status],
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in sorted({*statuses, 503})
    }


def ok(data: Any, description: str) -> dict[int, ResponseSpec]:
    """The 200 of a handler that answers ``data`` as JSON or a CSV stream: its ``Response[Any]`` annotation cannot
    describe the JSON, so this does (``linked(csv=...)`` adds the CSV)."""
    return {200: ResponseSpec(data_container=data, description=description, generate_examples=False)}


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's schema of a msgspec struct, plus ``additionalProperties: false`` when the struct forbids unknown
    fields (Litestar leaves it out, so the document allowed what the service refuses: a client generator would
    accept, and a fuzzer send, a typo'd field)."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        return schema


def linked(csv: str | None = None, **links: Link) -> type[Operation]:
    """An ``operation_class`` whose success responses carry OpenAPI ``links`` (Litestar's ``ResponseSpec`` has no
    field for them): how a response's values feed the next request, which clients and the fuzzer's stateful
    phase follow. With ``csv`` (its description), the 200 response also offers ``text/csv`` (Litestar documents
    one media type per response)."""

    @dataclass
    class LinkedOperation(Operation):
        def __post_init__(self) -> None:
            for status, response in (self.responses or {}).items():
                if status.startswith("2") and isinstance(response, OpenAPIResponse):
                    response.links = dict(links) or None
                    if csv and response.content:
                        schema = Schema(type=OpenAPIType.STRING, description=csv)
                        response.content[CSV] = OpenAPIMediaType(schema=schema)

    return LinkedOperation
