"""CSV exports (``Accept: text/csv``) of usage-totals and usage-events on both databases: the JSON answer's rows,
RFC 4180 text, formulas defused, every event of the period read page by page, errors still problem details."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from tally.app import create_app
from tally.config import Settings
from tally.db.engine import create_engine
from tally.metering.events import EventQuery
from tally.usage.reading import UsageReader
from tests.conftest import (
    FEATURES_URL,
    PLATFORM,
    TEST_SECRET,
    assert_problem,
    bearer,
    clear,
    events_url,
    record,
    totals_url,
)

pytestmark = pytest.mark.anyio

CSV = {"Accept": "text/csv"}
NOV = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z"}
PAGE_SIZE = 2
HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd"]


@pytest.fixture
async def small_pages(database_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of an app that reads exports ``PAGE_SIZE`` events at a time."""
    await clear(database_url)
    app = create_app(Settings(database_url=database_url, jwt_secret=TEST_SECRET, export_page_size=PAGE_SIZE))
    async with AsyncTestClient(app=app) as client:
        yield client


def event(key: str, at: str, feature: str = "api_calls", quantity: int = 1, **dimensions: str) -> dict[str, object]:
    return {"feature_key": feature, "quantity": quantity, "idempotency_key": key, "timestamp": at} | (
        {"dimensions": dimensions} if dimensions else {}
    )


async def declare(client, key: str, unit: str = "requests", dimensions: tuple[str, ...] = ()) -> None:
    r = await client.put(f"{FEATURES_URL}/{key}", json={"unit": unit, "dimensions": list(dimensions)}, headers=PLATFORM)
    assert r.status_code in (200, 201), r.text


async def csv_of(client, url: str, tenant: uuid.UUID, params=(), accept: str = "text/csv") -> list[list[str]]:
    r = await client.get(url, params=params, headers={**bearer("viewer", tenant), "Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert r.headers["content-disposition"].startswith("attachment; filename=")
    text = r.content.decode("utf-8")
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline="")))


async def json_of(client, url: str, tenant: uuid.UUID, params=()):
    r = await client.get(url, params=params, headers=bearer("viewer", tenant))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def as_text(value: object) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


async def test_totals_as_csv_are_the_json_rows_with_a_header(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "api_calls")
    await declare(client, "llm_tokens", unit="tokens")
    await record(client, tenant, event("a", "2026-11-02T10:00:00Z", quantity=3), event("b", "2026-11-20T10:00:00Z"))
    params = {**NOV, "window_size": "day"}
    rows = await json_of(client, totals_url(tenant), tenant, params)
    header, *lines = await csv_of(client, totals_url(tenant), tenant, params)
    assert header == ["feature_key", "unit", "quantity", "window_start", "window_end", "approximate", "final"]
    assert lines == [[as_text(row[name]) for name in header] for row in rows]
    assert len(lines) == 2 * 30
    assert ["api_calls", "requests", "3", "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z", "false", "false"] in lines


async def test_group_by_keys_are_extra_columns_in_their_order(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "llm_tokens", unit="tokens", dimensions=("model", "region"))
    await record(
        client,
        tenant,
        event("a", "2026-11-02T10:00:00Z", "llm_tokens", 5, model="gpt-4o", region="eu"),
        event("b", "2026-11-02T11:00:00Z", "llm_tokens", 7, region="us"),
    )
    params = [*NOV.items(), ("group_by", "region"), ("group_by", "model")]
    rows = await json_of(client, totals_url(tenant), tenant, params)
    header, *lines = await csv_of(client, totals_url(tenant), tenant, params)
    assert header[-2:] == ["dimensions.region", "dimensions.model"]
    assert lines == [
        [as_text(row[name]) for name in header[:-2]] + [as_text(row["dimensions"][k]) for k in ("region", "model")]
        for row in rows
    ]
    assert [line[-2:] for line in lines] == [["eu", "gpt-4o"], ["us", ""]]  # null: an empty cell


async def test_every_event_of_the_period_in_listing_order_across_pages(small_pages) -> None:
    client, tenant = small_pages, uuid.uuid4()
    await declare(client, "api_calls")
    await declare(client, "llm_tokens", unit="tokens", dimensions=("model",))
    await record(
        client,
        tenant,
        *(event(f"k{i}", f"2026-11-0{i}T10:00:00Z") for i in range(1, 6)),
        event("same-time", "2026-11-03T10:00:00Z", "llm_tokens", 9, model="m1"),  # a key tie across a page edge
        event("october", "2026-10-31T23:59:59Z"),
        event("december", "2026-12-01T00:00:00Z"),
    )
    r = await client.post(f"{events_url(tenant)}/k2/void", json={"reason": "sent twice"}, headers=PLATFORM)
    assert r.status_code == 200
    listed, cursor = [], None
    while True:
        body = await json_of(client, events_url(tenant), tenant, {**NOV, **({"cursor": cursor} if cursor else {})})
        listed += body["items"]
        if (cursor := body["next_cursor"]) is None:
            break
    header, *lines = await csv_of(client, events_url(tenant), tenant, {**NOV, "limit": 1})
    assert header == [
        "idempotency_key",
        "feature_key",
        "quantity",
        "timestamp",
        "recorded_at",
        "dimensions",
        "voided",
        "void_reason",
        "voided_at",
        "voided_by",
    ]
    assert [line[0] for line in lines] == ["k1", "k2", "k3", "same-time", "k4", "k5"]  # not a page: limit is ignored
    dimensions = {"{}": {}, '{"model":"m1"}': {"model": "m1"}}
    assert [dict(zip(header, line, strict=True)) for line in lines] == [
        {name: as_text(item[name]) for name in header}
        | {"dimensions": next(k for k, v in dimensions.items() if v == item["dimensions"])}
        for item in listed
    ]
    voided = dict(zip(header, lines[1], strict=True))
    assert (voided["voided"], voided["void_reason"], voided["voided_by"]) == ("true", "sent twice", "test")

    only = await csv_of(client, events_url(tenant), tenant, {**NOV, "feature_key": "llm_tokens"})
    assert [line[0] for line in only[1:]] == ["same-time"]
    after = await csv_of(client, events_url(tenant), tenant, {**NOV, "limit": 3})
    assert len(after) == 7
    # an export can resume after a listing's cursor
    first_page = await json_of(client, events_url(tenant), tenant, {**NOV, "limit": 3})
    resumed = await csv_of(client, events_url(tenant), tenant, {**NOV, "cursor": first_page["next_cursor"]})
    assert [line[0] for line in resumed[1:]] == ["same-time", "k4", "k5"]


async def test_the_export_reads_events_a_page_at_a_time(database_url: str, client) -> None:
    """The service hands the export out in pages of the configured size, never the whole period at once."""
    tenant = uuid.uuid4()
    await declare(client, "api_calls")
    await record(client, tenant, *(event(f"k{i}", f"2026-11-0{i}T10:00:00Z") for i in range(1, 8)))
    engine = create_engine(database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            pages = await UsageReader(session).export_events(tenant, EventQuery(), page_size=3)
            sizes, keys = [], []
            async for page in pages:
                sizes.append(len(page))
                keys += [e.idempotency_key for e in page]
    finally:
        await engine.dispose()
    assert sizes == [3, 3, 1]
    assert keys == [f"k{i}" for i in range(1, 8)]


async def test_cells_that_a_spreadsheet_would_run_as_formulas_are_escaped(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "llm_tokens", unit="=1+1", dimensions=("model",))
    hostile = [
        event(f"{value}-{i}", "2026-11-02T10:00:00Z", "llm_tokens", model=value) for i, value in enumerate(HOSTILE)
    ]
    await record(client, tenant, *hostile, event("plain", "2026-11-03T10:00:00Z", "llm_tokens"))
    r = await client.post(f"{events_url(tenant)}/plain/void", json={"reason": "@evil"}, headers=PLATFORM)
    assert r.status_code == 200, r.text
    _, *totals = await csv_of(client, totals_url(tenant), tenant, [*NOV.items(), ("group_by", "model")])
    assert sorted(line[-1] for line in totals) == sorted(f"'{value}" for value in HOSTILE)
    assert {line[1] for line in totals} == {"'=1+1"}
    _, *events = await csv_of(client, events_url(tenant), tenant, NOV)
    assert sorted(line[0] for line in events[:-1]) == sorted(f"'{e['idempotency_key']}" for e in hostile)
    assert events[-1][0] == "plain"
    assert events[-1][7] == "'@evil"
    for line in totals + events:
        for cell in line:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), line


async def test_rfc_4180_quoting_and_utf_8(client) -> None:
    tenant = uuid.uuid4()
    awkward = 'Zürich, "CH"\nsecond line'
    await declare(client, "llm_tokens", unit="tokens", dimensions=("region",))
    await record(client, tenant, event("a", "2026-11-02T10:00:00Z", "llm_tokens", 2, region=awkward))
    r = await client.get(totals_url(tenant), params=[*NOV.items(), ("group_by", "region")], headers={**PLATFORM, **CSV})
    assert r.status_code == 200, r.text
    assert '"Zürich, ""CH""\nsecond line"\r\n'.encode() in r.content
    assert r.content.startswith(
        b"feature_key,unit,quantity,window_start,window_end,approximate,final,dimensions.region\r\n"
    )
    _, line = list(csv.reader(io.StringIO(r.content.decode("utf-8"), newline="")))
    assert line[-1] == awkward


async def test_accept_is_negotiated_and_a_type_tally_cannot_serve_is_a_406(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "api_calls")
    for url in (totals_url(tenant), events_url(tenant)):
        assert (await csv_of(client, url, tenant, NOV, accept="application/json;q=0.5, text/csv"))[0][0]
        for accept in ("*/*", "application/json", "text/csv;q=0.1, application/*", "text/html, */*;q=0.1"):
            r = await client.get(url, params=NOV, headers={**bearer("viewer", tenant), "Accept": accept})
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/json", accept
        r = await client.get(url, params=NOV, headers={**bearer("viewer", tenant), "Accept": "text/html"})
        body = assert_problem(r, 406, "Accept", "text/csv")
        assert body["type"] == "urn:tally:problem:not-acceptable"


async def test_an_empty_export_is_its_header(client) -> None:
    tenant = uuid.uuid4()
    assert await csv_of(client, totals_url(tenant), tenant, NOV) == [
        ["feature_key", "unit", "quantity", "window_start", "window_end", "approximate", "final"]
    ]
    assert len(await csv_of(client, events_url(tenant), tenant, NOV)) == 1


async def test_errors_of_a_csv_request_are_problem_details_and_tenants_stay_apart(client) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    await declare(client, "api_calls")
    await record(client, other, event("theirs", "2026-11-02T10:00:00Z"))
    assert len(await csv_of(client, events_url(tenant), tenant, NOV)) == 1
    for url in (totals_url(other), events_url(other)):
        assert_problem(await client.get(url, params=NOV, headers={**bearer("viewer", tenant), **CSV}), 403)
        assert_problem(await client.get(url, params=NOV, headers=CSV), 401)
    r = await client.get(
        events_url(tenant), params={"feature_key": "nope"}, headers={**bearer("viewer", tenant), **CSV}
    )
    assert_problem(r, 400, "feature_key")
    r = await client.get(totals_url(tenant), params={"period_start": "1"}, headers={**bearer("viewer", tenant), **CSV})
    assert_problem(r, 400, "period_start")
    r = await client.get(events_url(tenant), params={"cursor": "bogus"}, headers={**bearer("viewer", tenant), **CSV})
    assert_problem(r, 400, "cursor")
