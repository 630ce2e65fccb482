"""Dimensions: what a feature declares, what events carry, how totals group and filter by them, and every
way to get them wrong (400 naming the field, 409 for a changed event or a removed key, nothing half-stored)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from tally.catalog.service import CatalogService
from tally.db.engine import create_engine
from tally.domain.catalog import FeatureIn
from tally.domain.usage import UsageBatch, UsageEventIn
from tally.usage.recording import UsageRecorder
from tests.conftest import (
    FEATURES_URL,
    ONE_DATABASE,
    PLATFORM,
    assert_problem,
    bearer,
    events_url,
    post_events,
    quantities,
    record,
    totals_url,
)

pytestmark = pytest.mark.anyio

NOV = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-11-08T00:00:00Z"}


async def put(client, key: str, dimensions: list[str] | None = None, **body: object):
    spec = {"unit": "tokens", **body} | ({} if dimensions is None else {"dimensions": dimensions})
    return await client.put(f"{FEATURES_URL}/{key}", json=spec, headers=PLATFORM)


async def declare(client, key: str, dimensions: list[str], **body: object) -> None:
    r = await put(client, key, dimensions, **body)
    assert r.status_code in (200, 201), r.text


def event(key: str, quantity: int, feature: str = "tokens", at: str = "2026-11-02T10:00:00Z", **dimensions: str):
    return {"feature_key": feature, "quantity": quantity, "idempotency_key": key, "timestamp": at} | (
        {"dimensions": dimensions} if dimensions else {}
    )


async def totals(client, tenant, *params: tuple[str, str], status: int = 200):
    r = await client.get(totals_url(tenant), params=[*NOV.items(), *params], headers=bearer("viewer", tenant))
    assert r.status_code == status, r.text
    return r.json()


def rows(answer) -> list[tuple[str, dict[str, str | None], int]]:
    return [(row["feature_key"], row["dimensions"], row["quantity"]) for row in answer]


# --- catalog ---------------------------------------------------------------------------------------


async def test_a_feature_declares_dimensions_and_lists_them(client) -> None:
    r = await put(client, "tokens", ["model", "region"])
    assert r.status_code == 201, r.text
    assert r.json()["dimensions"] == ["model", "region"]
    listed = await client.get(FEATURES_URL, headers=bearer("viewer", uuid.uuid4()))
    assert {f["feature_key"]: f["dimensions"] for f in listed.json()} == {"tokens": ["model", "region"]}
    r = await put(client, "plain")
    assert r.json()["dimensions"] == []


@pytest.mark.parametrize(
    ("dimensions", "named"),
    [
        (["Model"], "dimensions"),
        (["1model"], "dimensions"),
        (["a" * 33], "dimensions"),
        (["model-name"], "dimensions"),
        ([f"k{i}" for i in range(11)], "dimensions"),
        (["model", "region", "model"], "model"),
        ("model", "dimensions"),
    ],
)
@ONE_DATABASE
async def test_bad_dimension_declarations_are_400(client, dimensions, named: str) -> None:
    assert_problem(await put(client, "tokens", dimensions), 400, named)
    assert (await client.get(FEATURES_URL, headers=PLATFORM)).json() == []


async def test_ten_dimensions_of_32_characters_are_fine(client) -> None:
    keys = [f"k{i}_" + "x" * 29 for i in range(10)]
    r = await put(client, "tokens", keys)
    assert r.status_code == 201, r.text
    assert r.json()["dimensions"] == keys


async def test_keys_can_be_added_after_usage_but_not_removed(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", ["model"])
    await record(client, tenant, event("a", 5, model="gpt"))
    await declare(client, "tokens", ["region", "model"])  # added, reordered
    body = assert_problem(await put(client, "tokens", ["region"]), 409, "model")
    assert "removed" in body["detail"]
    assert_problem(await put(client, "tokens", []), 409, "model", "region")
    assert_problem(await put(client, "tokens"), 409, "model")  # omitted means none
    listed = (await client.get(FEATURES_URL, headers=PLATFORM)).json()
    assert listed[0]["dimensions"] == ["region", "model"]


async def test_keys_can_be_removed_while_no_usage_exists(client) -> None:
    await declare(client, "tokens", ["model", "region"])
    r = await put(client, "tokens", ["region"])
    assert r.status_code == 200, r.text
    assert r.json()["dimensions"] == ["region"]


async def test_usage_recorded_before_the_first_declaration_groups_as_without_values(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", [], aggregation="max")
    await record(client, tenant, event("old", 40))
    await declare(client, "tokens", ["model"], aggregation="max")
    await record(client, tenant, event("new", 7, model="gpt"))
    answer = await totals(client, tenant, ("group_by", "model"))
    assert rows(answer) == [("tokens", {"model": None}, 40), ("tokens", {"model": "gpt"}, 7)]
    assert rows(await totals(client, tenant)) == [("tokens", {}, 40)]


async def test_months_recorded_before_the_first_declaration_group_whole(client) -> None:
    """Whole UTC months are read from month buckets, which the first declaration adds up from days."""
    tenant = uuid.uuid4()
    await declare(client, "tokens", [], aggregation="sum")
    await record(client, tenant, event("oct", 1, at="2026-10-31T23:59:59Z"), event("nov", 2, at="2026-11-01T00:00:00Z"))
    await record(client, tenant, event("nov2", 4, at="2026-11-20T12:00:00Z"))
    await declare(client, "tokens", ["model"])
    await record(client, tenant, event("nov3", 8, at="2026-11-21T12:00:00Z", model="gpt"))
    period = [("period_start", "2026-10-01T00:00:00Z"), ("period_end", "2026-12-01T00:00:00Z")]
    answer = await totals(client, tenant, *period, ("group_by", "model"), ("window_size", "month"))
    got = [(row["window_start"], row["dimensions"]["model"], row["quantity"]) for row in answer]
    assert got == [
        ("2026-10-01T00:00:00Z", None, 1),
        ("2026-11-01T00:00:00Z", None, 6),
        ("2026-11-01T00:00:00Z", "gpt", 8),
    ]
    answer = await totals(client, tenant, *period, ("group_by", "model"))
    assert rows(answer) == [("tokens", {"model": None}, 7), ("tokens", {"model": "gpt"}, 8)]


# --- ingestion -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dimensions", "named"),
    [
        ({"colour": "red"}, "events[1].dimensions.colour"),
        ({"model": ""}, "events[1].dimensions.model"),
        ({"model": "x" * 129}, "events[1].dimensions.model"),
        ({"model": 4}, "events[1].dimensions"),
        ({"model": None}, "events[1].dimensions"),
        (["model"], "events[1].dimensions"),
    ],
)
async def test_bad_event_dimensions_are_400_and_nothing_is_stored(client, dimensions, named: str) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", ["model"])
    good = event("ok", 1, model="gpt")
    bad = event("bad", 2) | {"dimensions": dimensions}
    assert_problem(await post_events(client, tenant, [good, bad]), 400, named)
    assert (await quantities(client, tenant, **NOV))["tokens"] == 0
    r = await client.get(events_url(tenant), headers=PLATFORM)
    assert r.json()["items"] == []


async def test_undeclared_keys_are_named_with_what_the_feature_declares(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", ["model", "region"])
    await declare(client, "calls", [])
    r = await post_events(client, tenant, [event("a", 1, colour="red"), event("b", 1, "calls", model="gpt")])
    body = assert_problem(r, 400, "events[0].dimensions.colour", "model, region", "events[1].dimensions.model")
    assert [e["field"] for e in body["errors"]] == ["events[0].dimensions.colour", "events[1].dimensions.model"]


async def test_a_value_of_128_characters_is_fine(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", ["model"])
    value = "é" * 128
    await record(client, tenant, event("a", 3, model=value))
    assert rows(await totals(client, tenant, ("group_by", "model"))) == [("tokens", {"model": value}, 3)]


async def test_dimensions_are_part_of_an_events_content(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", ["model", "region"])
    await record(client, tenant, event("a", 5, model="gpt", region="eu"), event("b", 1))
    # The same content, keys in another order, or {} for none: duplicates.
    again = [event("a", 5, region="eu", model="gpt"), event("b", 1) | {"dimensions": {}}]
    assert await record(client, tenant, *again) == {"accepted": 0, "duplicates": 2}
    for changed in (event("a", 5, model="gpt"), event("a", 5, model="gpt", region="us"), event("b", 1, model="x")):
        key = changed["idempotency_key"]
        assert_problem(await post_events(client, tenant, [changed]), 409, f"'{key}'", "dimensions")
    # Inside one batch, too.
    r = await post_events(client, tenant, [event("c", 1, model="gpt"), event("c", 1, model="llama")])
    assert_problem(r, 400, "events[1].idempotency_key")
    assert rows(await totals(client, tenant, ("group_by", "model"))) == [
        ("tokens", {"model": None}, 1),
        ("tokens", {"model": "gpt"}, 5),
    ]


async def test_the_event_listing_shows_dimensions(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", ["model", "region"])
    await record(client, tenant, event("a", 5, region="eu", model="gpt"), event("b", 1))
    items = (await client.get(events_url(tenant), headers=PLATFORM)).json()["items"]
    assert {i["idempotency_key"]: i["dimensions"] for i in items} == {"a": {"model": "gpt", "region": "eu"}, "b": {}}


# --- totals ----------------------------------------------------------------------------------------


async def recorded_mix(client, tenant) -> None:
    await declare(client, "tokens", ["model", "region"])
    await declare(client, "images", ["model"], unit="images", aggregation="count")
    await record(
        client,
        tenant,
        event("t1", 10, model="gpt", region="eu"),
        event("t2", 20, model="gpt", region="us"),
        event("t3", 40, model="llama", region="eu"),
        event("t4", 80, region="eu"),
        event("t5", 160),
        event("i1", 3, "images", model="gpt"),
        event("i2", 3, "images", model="gpt"),
        event("i3", 3, "images"),
    )


async def test_group_by_one_key_across_features(client) -> None:
    tenant = uuid.uuid4()
    await recorded_mix(client, tenant)
    assert rows(await totals(client, tenant, ("group_by", "model"))) == [
        ("images", {"model": None}, 1),
        ("images", {"model": "gpt"}, 2),
        ("tokens", {"model": None}, 240),
        ("tokens", {"model": "gpt"}, 30),
        ("tokens", {"model": "llama"}, 40),
    ]


async def test_group_by_two_keys_sorts_by_values_in_group_by_order_nulls_first(client) -> None:
    tenant = uuid.uuid4()
    await recorded_mix(client, tenant)
    answer = await totals(client, tenant, ("feature_keys", "tokens"), ("group_by", "region"), ("group_by", "model"))
    assert rows(answer) == [
        ("tokens", {"region": None, "model": None}, 160),
        ("tokens", {"region": "eu", "model": None}, 80),
        ("tokens", {"region": "eu", "model": "gpt"}, 10),
        ("tokens", {"region": "eu", "model": "llama"}, 40),
        ("tokens", {"region": "us", "model": "gpt"}, 20),
    ]
    assert [list(row["dimensions"]) for row in answer] == [["region", "model"]] * 5


async def test_filters_and_across_keys_or_within_a_key(client) -> None:
    tenant = uuid.uuid4()
    await recorded_mix(client, tenant)
    only = ("feature_keys", "tokens")
    assert rows(await totals(client, tenant, only, ("filter", "region=eu"))) == [("tokens", {}, 130)]
    assert rows(await totals(client, tenant, only, ("filter", "region=eu"), ("filter", "region=us"))) == [
        ("tokens", {}, 150)
    ]
    answer = await totals(client, tenant, only, ("filter", "region=eu"), ("filter", "model=gpt"))
    assert rows(answer) == [("tokens", {}, 10)]
    answer = await totals(client, tenant, only, ("filter", "model=gpt"), ("group_by", "region"))
    assert rows(answer) == [("tokens", {"region": "eu"}, 10), ("tokens", {"region": "us"}, 20)]
    # A value containing '=' is taken whole after the first one.
    assert rows(await totals(client, tenant, only, ("filter", "model=a=b"))) == [("tokens", {}, 0)]


async def test_nothing_matched_is_one_zero_row_per_feature_and_window(client) -> None:
    tenant = uuid.uuid4()
    await recorded_mix(client, tenant)
    answer = await totals(
        client,
        tenant,
        ("group_by", "model"),
        ("filter", "model=claude"),
        ("window_size", "day"),
        ("feature_keys", "images"),
        ("feature_keys", "tokens"),
    )
    assert len(answer) == 2 * 7
    assert {(row["quantity"], tuple(row["dimensions"].items())) for row in answer} == {(0, (("model", None),))}
    assert [row["feature_key"] for row in answer] == ["images"] * 7 + ["tokens"] * 7


async def test_windows_hold_only_the_values_that_occurred_in_them(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", ["model"])
    await record(
        client,
        tenant,
        event("a", 1, at="2026-11-01T23:30:00Z", model="gpt"),
        event("b", 2, at="2026-11-02T00:30:00Z", model="llama"),
        event("c", 4, at="2026-11-02T05:00:00Z", model="gpt"),
    )
    answer = await totals(
        client,
        tenant,
        ("group_by", "model"),
        ("window_size", "day"),
        ("timezone", "Europe/Berlin"),
        ("period_start", "2026-11-01T00:00:00+01:00"),
        ("period_end", "2026-11-04T00:00:00+01:00"),
    )
    got = [(row["window_start"], row["dimensions"]["model"], row["quantity"]) for row in answer]
    assert got == [
        ("2026-10-31T23:00:00Z", None, 0),
        ("2026-11-01T23:00:00Z", "gpt", 5),
        ("2026-11-01T23:00:00Z", "llama", 2),
        ("2026-11-02T23:00:00Z", None, 0),
    ]


async def test_voids_leave_grouped_totals_and_an_emptied_group_disappears(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "peak", ["model"], aggregation="max")
    await record(client, tenant, event("a", 9, "peak", model="gpt"), event("b", 4, "peak", model="gpt"))
    await record(client, tenant, event("c", 7, "peak", model="llama"))
    for key in ("a", "c"):
        r = await client.post(f"{events_url(tenant)}/{key}/void", json={"reason": "test"}, headers=PLATFORM)
        assert r.status_code == 200, r.text
    assert rows(await totals(client, tenant, ("group_by", "model"))) == [("peak", {"model": "gpt"}, 4)]


async def test_tenants_never_see_each_others_dimension_values(client) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    await declare(client, "tokens", ["model"])
    await record(client, mine, event("a", 1, model="gpt"))
    await record(client, theirs, event("a", 2, model="secret-model"))
    assert rows(await totals(client, mine, ("group_by", "model"))) == [("tokens", {"model": "gpt"}, 1)]
    r = await client.get(totals_url(theirs), params={"group_by": "model"}, headers=bearer("viewer", mine))
    assert_problem(r, 403)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ([("group_by", "colour")], "group_by"),
        ([("group_by", "model")], "images"),  # every feature selected when none is named
        ([("feature_keys", "plain"), ("group_by", "model")], "plain"),
        ([("group_by", "Model")], "group_by"),
        ([("group_by", k) for k in ("model", "region", "tier", "size")], "group_by"),
        ([("filter", "region")], "filter"),
        ([("filter", "region=")], "filter"),
        ([("filter", "=eu")], "filter"),
        ([("filter", "Region=eu")], "filter"),
        ([("filter", "region=" + "x" * 129)], "filter"),
        ([("feature_keys", "tokens"), ("filter", "colour=red")], "colour"),
        ([("feature_keys", "plain"), ("filter", "model=gpt")], "plain"),
    ],
)
async def test_bad_group_by_and_filter_are_400(client, params, named: str) -> None:
    await declare(client, "tokens", ["model", "region", "tier", "size"])
    await declare(client, "images", ["region"])
    await declare(client, "plain", [])
    r = await client.get(totals_url(uuid.uuid4()), params=[*NOV.items(), *params], headers=PLATFORM)
    assert_problem(r, 400, named)


async def test_repeated_group_by_keys_count_once(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", ["model", "region", "tier"])
    await record(client, tenant, event("a", 1, model="gpt"))
    params = [("group_by", k) for k in ("model", "region", "model")]
    assert rows(await totals(client, tenant, *params)) == [("tokens", {"model": "gpt", "region": None}, 1)]


async def test_a_grouped_answer_is_capped_at_10000_rows(client) -> None:
    tenant = uuid.uuid4()
    await declare(client, "tokens", ["user"])
    # 34 users in each of 300 hours: 10,200 rows by hour and user, 34 by user alone.
    events = [
        event(f"e{h}-{u}", 1, at=f"2026-11-{1 + h // 24:02d}T{h % 24:02d}:00:00Z", user=f"u{u}")
        for h in range(300)
        for u in range(34)
    ]
    for first in range(0, len(events), 1000):
        await record(client, tenant, *events[first : first + 1000])
    hourly = [("group_by", "user"), ("window_size", "hour"), ("period_end", "2026-11-13T12:00:00Z")]
    assert_problem(await client.get(totals_url(tenant), params=[*NOV.items(), *hourly], headers=PLATFORM), 400, "10000")
    assert len(await totals(client, tenant, ("group_by", "user"))) == 34


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite runs one writer at a time
async def test_a_batch_in_flight_during_the_first_declaration_is_not_lost(client, database_url: str) -> None:
    """The first declaration copies the feature's buckets while a batch that read the old catalog (no
    dimensions) may still be writing. Here a second connection holds the batch's bucket row, so the batch
    is stalled between reading the catalog and committing while the declaration runs; grouped totals
    must still add up to the plain total once both are done. The services are driven directly, each on
    its own session: the test client runs one request at a time."""
    tenant = uuid.uuid4()
    engine = create_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    at = datetime(2026, 11, 2, 10, tzinfo=UTC)

    async def declare_directly(dimensions: list[str]) -> None:
        async with sessions() as session:
            await CatalogService(session).put_feature("tokens", FeatureIn(unit="tokens", dimensions=dimensions))

    async def record_directly(key: str, quantity: int) -> None:
        async with sessions() as session:
            batch = UsageBatch(
                events=[UsageEventIn(feature_key="tokens", quantity=quantity, idempotency_key=key, timestamp=at)]
            )
            await UsageRecorder(session).record(tenant, batch, datetime.now(UTC))

    try:
        await declare_directly([])
        await record_directly("first", 1)
        async with engine.connect() as blocker:
            await blocker.execution_options(isolation_level="READ COMMITTED")
            await blocker.begin()
            await blocker.execute(text("SELECT 1 FROM usage_bucket WHERE tenant_id = :t FOR UPDATE"), {"t": tenant})
            stalled = asyncio.create_task(record_directly("stalled", 10))
            await asyncio.sleep(0.5)
            declaring = asyncio.create_task(declare_directly(["model"]))
            await asyncio.sleep(0.5)
            await blocker.rollback()
            await asyncio.gather(stalled, declaring)
    finally:
        await engine.dispose()
    await record(client, tenant, event("late", 100, model="gpt"))
    assert (await quantities(client, tenant, **NOV))["tokens"] == 111
    for size in ("day", None):
        grouped = await totals(client, tenant, ("group_by", "model"), *([("window_size", size)] if size else []))
        by_model = {}
        for row in grouped:
            by_model[row["dimensions"]["model"]] = by_model.get(row["dimensions"]["model"], 0) + row["quantity"]
        assert by_model == {None: 11, "gpt": 100}
