"""HTTP routes of one tenant's usage: record events, void one, list them, read totals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Example, Link, OpenAPIType, Schema
from litestar.params import JSONBody, Parameter, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from tally.auth import Permission, Principal, requires
from tally.config import Settings
from tally.domain.errors import InvalidInput, NotAcceptable
from tally.domain.models import (
    MAX_DIMENSION_VALUE,
    MAX_EVENTS_PAGE,
    MAX_FEATURE_KEYS,
    MAX_GROUP_BY,
    NO_NUL,
    IngestResult,
    UsageBatch,
    UsageEvent,
    UsageEventPage,
    UsageTotal,
    VoidIn,
    WindowSize,
)
from tally.metrics import count_ingestion
from tally.openapi_docs import linked, ok, problems
from tally.usage import exports
from tally.usage.periods import open_period
from tally.usage.service import UsageService
from tally.usage.totals import TotalsQuery

# Litestar converts query values leniently: a number such as 0.5 or -1 becomes a Unix timestamp. The contract
# speaks of ISO-8601 datetimes only (found by schemathesis).
NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def iso_datetimes_only(request: Request[Any, Any, Any], *names: str) -> None:
    for name in names:
        raw = request.query_params.get(name)
        if raw is not None and NUMBER.fullmatch(raw):
            raise InvalidInput.field(name, f"'{raw}' is a number, not an ISO-8601 datetime")


# A repeatable text parameter's schema. Litestar leaves the items' constraints out of a list parameter's schema
# (msgspec Meta on the item type is dropped), so the schema states them itself.
TEXT_LIST = {
    "one_of": [
        Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING, pattern=NO_NUL)),
        Schema(type=OpenAPIType.NULL),
    ]
}


def wants_csv(request: Request[Any, Any, Any]) -> bool:
    """Whether the ``Accept`` header prefers ``text/csv`` to JSON (no header: JSON). One that allows neither is a
    406."""
    if "accept" not in request.headers:
        return False
    best = request.accept.best_match([MediaType.JSON, exports.MEDIA_TYPE])
    if best is None:
        raise NotAcceptable.field(
            "Accept", f"'{request.headers['accept']}' allows neither {MediaType.JSON} nor {exports.MEDIA_TYPE}"
        )
    return best == exports.MEDIA_TYPE


def csv_response(chunks: AsyncIterator[bytes], filename: str, headers: Mapping[str, str] | None = None) -> Stream:
    # The Content-Type header, not media_type: Litestar lets the handler's media type (JSON) win over a Stream's.
    disposition = f'attachment; filename="{filename}"'
    return Stream(
        chunks, headers={**(headers or {}), "Content-Type": exports.CONTENT_TYPE, "Content-Disposition": disposition}
    )


TENANT = "$request.path.tenant_id"  # a link's value: the same tenant as the request it follows

TenantId = Annotated[UUID, Parameter(description="The tenant whose usage is recorded or read.")]


async def provide_usage(db_session: NamedDependency[AsyncSession], state: State) -> UsageService:
    # The settings from the app's state, not as a dependency: with ``db_session`` beside it, Litestar would
    # resolve the two concurrently in an anyio task group on every request (one dependency per level is a
    # plain await; the task group was about 5% of a totals read's CPU in a py-spy profile).
    return usage_service(db_session, state.settings)


async def provide_primary_reads(db_session: NamedDependency[AsyncSession], state: State) -> UsageService:
    """``read_usage`` without a read replica: ``provide_usage`` under another name (Litestar refuses one provider
    under two keys)."""
    return usage_service(db_session, state.settings)


async def provide_replica_reads(read_session: NamedDependency[AsyncSession], state: State) -> UsageService:
    """``read_usage`` with a read replica: a service on the replica's session (the primary's while it lags)."""
    return usage_service(read_session, state.settings)


def usage_service(session: AsyncSession, settings: Settings) -> UsageService:
    return UsageService(
        session, future_skew=timedelta(seconds=settings.future_skew_seconds), totals_source=settings.totals_source
    )


def read_usage_provider(with_replica: bool) -> Provide:
    """The app's ``read_usage`` dependency, for the routes that only read (totals, the event listing, their CSV,
    entitlements): chosen when the app is built, so that without a replica it is a service on the
    primary's ``db_session``, at no extra dependency level."""
    return Provide(provide_replica_reads if with_replica else provide_primary_reads)


class UsageController(Controller):
    path = "/api/v1/billing/tenants/{tenant_id:str}"
    tags = ["usage"]
    dependencies = {"usage": Provide(provide_usage)}

    @post(
        "/usage-events",
        operation_id="record_usage_events",
        summary="Record usage events, exactly once",
        description=(
            "Stores 1 to 1000 events atomically: all of them or none. An event whose `idempotency_key` is "
            "already known with the same `feature_key`, `quantity`, `timestamp` and `dimensions` is a duplicate: "
            "accepted, not counted again. The same key with different content is a 409. An event whose `feature_key` "
            "is not in the catalog, or whose dimension key its feature does not declare, is a 400 (the catalog is "
            "data, not schema). Unknown fields are a 400 naming them. Roles admin, owner, platform."
        ),
        guards=[requires(Permission.RECORD_USAGE)],
        status_code=200,
        responses=problems(400, 401, 403, 409, 413, 429),
        operation_class=linked(
            void=Link(
                operation_id="void_usage_event",
                parameters={"tenant_id": TENANT, "idempotency_key": "$request.body#/events/0/idempotency_key"},
                description="Void the batch's first event.",
            ),
            totals=Link(
                operation_id="get_usage_totals",
                parameters={"tenant_id": TENANT, "feature_keys": "$request.body#/events/0/feature_key"},
                description="Totals of the first event's feature.",
            ),
            events=Link(
                operation_id="list_usage_events",
                parameters={"tenant_id": TENANT, "feature_key": "$request.body#/events/0/feature_key"},
                description="The events of the first event's feature.",
            ),
        ),
    )
    async def record_usage_events(
        self,
        tenant_id: TenantId,
        data: JSONBody[UsageBatch],
        usage: NamedDependency[UsageService],
    ) -> IngestResult:
        result = await usage.record(tenant_id, data, received_at=datetime.now(UTC))
        count_ingestion(result)
        return result

    @get(
        "/usage-totals",
        operation_id="get_usage_totals",
        summary="Usage totals per feature, over a period or per window",
        description=(
            "Without `window_size`: one `UsageTotal` per selected feature for the half-open period "
            "`[period_start, period_end)`. With `window_size` (`hour`, `day`, `month`): one row per feature and "
            "window, consecutive and covering the period; both bounds must then be window boundaries in "
            "`timezone`, and at most 10,000 rows are answered. Rows are sorted by (`feature_key`, "
            "`window_start`), zero-filled, bounds in UTC. Each feature's total follows its aggregation: `sum`, "
            "`count`, `max`, `min`, `latest` (the quantity of the latest event by timestamp; ties go to the "
            "later-recorded event), or `unique_count` (distinct values of the feature's `unique_by` dimension in "
            "the window). Voided events count nowhere. Both bounds omitted: the current calendar "
            "month in `timezone`; one omitted: the other bound of the calendar month holding the given one. "
            "With `group_by`: one row per feature, window and combination of the grouped dimensions' values "
            "that occurred (null: events without the key), sorted by those values after `window_start`, nulls "
            "first; a window where nothing matched is one zero row with null values. `filter` keeps only the "
            "events with the given values. Each `UsageTotal.dimensions` holds its grouped values (`{}` "
            "without `group_by`). With `Accept: text/csv`: the same rows as CSV, streamed (a header row; "
            "a `dimensions.<key>` column per `group_by` key)."
        ),
        guards=[requires(Permission.READ_USAGE)],
        responses={**ok(list[UsageTotal], "The totals."), **problems(400, 401, 403, 406, 429)},
        operation_class=linked(csv="The same rows as CSV: RFC 4180, UTF-8, a header row."),
    )
    async def get_usage_totals(
        self,
        tenant_id: TenantId,
        request: Request[Any, Any, Any],
        read_usage: NamedDependency[UsageService],
        feature_keys: Annotated[
            list[str] | None,
            Parameter(
                description=f"Features to report (repeat the parameter, at most {MAX_FEATURE_KEYS}); "
                "omitted: every feature of the catalog. Unknown keys are a 400.",
                max_items=MAX_FEATURE_KEYS,
                schema_extra=TEXT_LIST,
            ),
        ] = None,
        period_start: Annotated[
            datetime | None,
            Parameter(
                description="Inclusive start, ISO-8601. Naive means UTC; send an offset's `+` as `%2B`.",
            ),
        ] = None,
        period_end: Annotated[
            datetime | None,
            Parameter(description="Exclusive end, ISO-8601, after `period_start` (else 400). Naive means UTC."),
        ] = None,
        window_size: Annotated[
            WindowSize | None,
            Parameter(description="One row per feature per `hour`, `day` or `month` of the period."),
        ] = None,
        timezone: Annotated[
            str,
            Parameter(
                description="IANA time zone that day and month windows and the calendar-month defaults follow.",
                examples=[Example(value="Europe/Berlin")],
                max_length=64,
                pattern=NO_NUL,
            ),
        ] = "UTC",
        group_by: Annotated[
            list[str] | None,
            Parameter(
                description=f"Dimension keys to break totals down by (repeat the parameter, at most {MAX_GROUP_BY}); "
                "each must be declared by every selected feature, else 400.",
                max_items=MAX_GROUP_BY,
                examples=[Example(value=["model"])],
                schema_extra=TEXT_LIST,
            ),
        ] = None,
        filters: Annotated[
            list[str] | None,
            QueryParameter(
                name="filter",
                description="Only events with this dimension value, as `key=value` (value 1 to "
                f"{MAX_DIMENSION_VALUE} characters; repeat the parameter: different keys must all match, values "
                "of the same key are alternatives). Each key must be declared by every selected feature, else 400.",
                examples=[Example(value=["region=eu"])],
                schema_extra=TEXT_LIST,
            ),
        ] = None,
    ) -> Response[Any]:
        # The query parameters are the handler's own, not a dependency's: see provide_usage. ``read_usage`` may read
        # from a replica (see tally.db.replica).
        iso_datetimes_only(request, "period_start", "period_end")
        totals_query = TotalsQuery.build(
            now=datetime.now(UTC),
            feature_keys=feature_keys,
            period_start=period_start,
            period_end=period_end,
            window_size=window_size,
            timezone=timezone,
            group_by=group_by,
            filters=filters,
        )
        csv = wants_csv(request)
        totals = await read_usage.totals(tenant_id, totals_query)
        if csv:
            return csv_response(exports.totals_csv(totals, totals_query.grouping.group_by), "usage-totals.csv")
        return Response(totals)

    @post(
        "/usage-events/{idempotency_key:str}/void",
        operation_id="void_usage_event",
        summary="Void an event: remove it from every total",
        description=(
            "Removes the event from all totals and keeps it, with who voided it, when and why, in the event "
            "listing. Voiding a voided event changes nothing (200). Its key stays used: re-sending the event is "
            "a duplicate, and the key cannot carry another event (409). Roles admin, owner, platform."
        ),
        guards=[requires(Permission.RECORD_USAGE)],
        status_code=200,
        responses=problems(400, 401, 403, 404, 429),
        operation_class=linked(
            events=Link(
                operation_id="list_usage_events",
                parameters={"tenant_id": TENANT, "feature_key": "$response.body#/feature_key"},
                description="The listing shows the event voided.",
            )
        ),
    )
    async def void_usage_event(
        self,
        tenant_id: TenantId,
        idempotency_key: Annotated[
            str,
            Parameter(
                description="Key of the event to void; a key never recorded for the tenant is a 404.",
                min_length=1,
                max_length=255,
                pattern=NO_NUL,
            ),
        ],
        data: JSONBody[VoidIn],
        request: Request[Any, Any, Any],
        usage: NamedDependency[UsageService],
    ) -> UsageEvent:
        principal: Principal = request.user
        return await usage.void(tenant_id, idempotency_key, data.reason, by=principal.subject, now=datetime.now(UTC))

    @get(
        "/usage-events",
        operation_id="list_usage_events",
        summary="List recorded events, voided ones included",
        description=(
            "Events oldest first (by timestamp, then key), filtered by feature and by the half-open period "
            "`[period_start, period_end)` (either bound may be omitted: no bound). Pass `next_cursor` back as "
            "`cursor` for the next page; it is null on the last one. With `Accept: text/csv`: every event of "
            "the filters (after `cursor`, if given) as CSV, streamed, not a page (`limit` does not apply)."
        ),
        guards=[requires(Permission.READ_USAGE)],
        responses={**ok(UsageEventPage, "A page of events."), **problems(400, 401, 403, 406, 429)},
        operation_class=linked(
            csv="Every event of the filters as CSV: RFC 4180, UTF-8, a header row; `dimensions` as JSON text.",
            next_page=Link(
                operation_id="list_usage_events",
                parameters={"tenant_id": TENANT, "cursor": "$response.body#/next_cursor"},
                description="The next page (none when `next_cursor` is null).",
            ),
        ),
    )
    async def list_usage_events(
        self,
        tenant_id: TenantId,
        request: Request[Any, Any, Any],
        read_usage: NamedDependency[UsageService],
        settings: NamedDependency[Settings],
        feature_key: Annotated[
            str | None, Parameter(description="Only this feature's events.", max_length=64, pattern=NO_NUL)
        ] = None,
        period_start: Annotated[datetime | None, Parameter(description="Inclusive start; naive means UTC.")] = None,
        period_end: Annotated[
            datetime | None, Parameter(description="Exclusive end, after `period_start` (else 400); naive means UTC.")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_EVENTS_PAGE, description="Events per page.")] = 100,
        cursor: Annotated[
            str | None,
            Parameter(
                description="`next_cursor` of the previous page; a cursor this API did not return is a 400.",
                max_length=512,
                pattern=NO_NUL,
            ),
        ] = None,
    ) -> Response[Any]:
        iso_datetimes_only(request, "period_start", "period_end")
        start, end = open_period(period_start, period_end)
        if wants_csv(request):
            size = settings.export_page_size
            pages = await read_usage.export_events(tenant_id, feature_key, start, end, size, cursor)
            return csv_response(exports.events_csv(pages), "usage-events.csv")
        return Response(await read_usage.list_events(tenant_id, feature_key, start, end, limit, cursor))
