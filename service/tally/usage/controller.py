"""HTTP routes of one tenant's usage: record events, void one, list them, read totals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example, Link
from litestar.params import JSONBody, Parameter, QueryParameter

from tally.config import Settings
from tally.domain.keys import MAX_DIMENSION_VALUE, MAX_FEATURE_KEYS, NO_NUL
from tally.domain.usage import (
    MAX_EVENTS_PAGE,
    MAX_GROUP_BY,
    IngestResult,
    UsageBatch,
    UsageEvent,
    UsageEventPage,
    UsageTotal,
    VoidIn,
    WindowSize,
)
from tally.http.auth import Permission, Principal, requires
from tally.http.csv import csv_response, wants_csv
from tally.http.cursors import decode_cursor
from tally.http.openapi import linked, ok, problems
from tally.http.params import TENANT, TEXT_LIST, Cursor, TenantId, iso_datetimes_only
from tally.metering.events import EventQuery
from tally.metering.totals import TotalsQuery
from tally.metrics import count_ingestion
from tally.usage import exports
from tally.usage.reading import UsageReader, reading
from tally.usage.recording import UsageRecorder


class UsageController(Controller):
    path = "/api/v1/billing/tenants/{tenant_id:str}"
    tags = ["usage"]

    @post(
        "/usage-events",
        operation_id="record_usage_events",
        summary="Record usage events, exactly once",
        description=(
            "Stores 1 to 1000 events atomically: all of them or none. An event whose `idempotency_key` is "
            "already known with the same `feature_key`, `quantity`, `timestamp` and `dimensions` is a duplicate: "
            "accepted, not counted again. The same key with different content is a 409. An event whose `feature_key` "
            "is not in the catalog, or whose dimension key its feature does not declare, is a 400 (the catalog is "
            "data, not schema). An event dated in a closed billing period is a 409 `period-closed` (a duplicate of "
            "one recorded before the close is still a duplicate). Unknown fields are a 400 naming them. Roles admin, "
            "owner, platform."
        ),
        opt=requires(Permission.RECORD_USAGE),
        status_code=200,
        responses=problems(400, 401, 403, 409, 429, body=True),
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
        recorder: NamedDependency[UsageRecorder],
    ) -> IngestResult:
        result = await recorder.record(tenant_id, data, received_at=datetime.now(UTC))
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
        opt=requires(Permission.READ_USAGE),
        responses={**ok(list[UsageTotal], "The totals."), **problems(400, 401, 403, 406, 429)},
        operation_class=linked(csv="The same rows as CSV: RFC 4180, UTF-8, a header row."),
    )
    async def get_usage_totals(
        self,
        tenant_id: TenantId,
        request: Request[Any, Any, Any],
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
                description="Inclusive start, RFC 3339 with an offset (`Z` or `±hh:mm`; send `+` as `%2B`); "
                "without one a 400.",
            ),
        ] = None,
        period_end: Annotated[
            datetime | None,
            Parameter(description="Exclusive end, RFC 3339 with an offset, after `period_start` (else 400)."),
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
        as_of: Annotated[
            datetime | None,
            Parameter(
                description="The totals as Tally knew them at this instant (RFC 3339 with an offset): the events "
                "recorded at or before it and not voided by then, for any period; the catalog as it is now. Read "
                "from the raw events, so slower than the live read. Omitted: as they are now.",
            ),
        ] = None,
    ) -> Response[Any]:
        # The query parameters are the handler's own, not a dependency's (see tally.providers), and so is the
        # reader (see ``reading``), which may read from a replica (see tally.db.replica).
        iso_datetimes_only(request, "period_start", "period_end", "as_of")
        totals_query = TotalsQuery.build(
            now=datetime.now(UTC),
            feature_keys=feature_keys,
            period_start=period_start,
            period_end=period_end,
            window_size=window_size,
            timezone=timezone,
            group_by=group_by,
            filters=filters,
            as_of=as_of,
        )
        csv = wants_csv(request)
        async with reading(request.app.state) as usage:
            totals = await usage.totals(tenant_id, totals_query)
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
            "a duplicate, and the key cannot carry another event (409). An event dated in a closed billing period "
            "cannot be voided (409 `period-closed`). Roles admin, owner, platform."
        ),
        opt=requires(Permission.RECORD_USAGE),
        status_code=200,
        responses=problems(400, 401, 403, 404, 409, 429, body=True),
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
        recorder: NamedDependency[UsageRecorder],
    ) -> UsageEvent:
        principal: Principal = request.user
        return await recorder.void(tenant_id, idempotency_key, data.reason, by=principal.subject, now=datetime.now(UTC))

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
        opt=requires(Permission.READ_USAGE),
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
        usage: NamedDependency[UsageReader],
        settings: NamedDependency[Settings],
        feature_key: Annotated[
            str | None, Parameter(description="Only this feature's events.", max_length=64, pattern=NO_NUL)
        ] = None,
        period_start: Annotated[
            datetime | None, Parameter(description="Inclusive start, RFC 3339 with an offset (without one a 400).")
        ] = None,
        period_end: Annotated[
            datetime | None, Parameter(description="Exclusive end, RFC 3339 with an offset, after `period_start`.")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_EVENTS_PAGE, description="Events per page.")] = 100,
        cursor: Cursor = None,
    ) -> Response[Any]:
        iso_datetimes_only(request, "period_start", "period_end")
        after = decode_cursor(cursor) if cursor is not None else None
        query = EventQuery.build(feature_key, period_start, period_end, after)
        if wants_csv(request):
            pages = await usage.export_events(tenant_id, query, settings.export_page_size)
            return csv_response(exports.events_csv(pages), "usage-events.csv")
        return Response(await usage.list_events(tenant_id, query, limit))
