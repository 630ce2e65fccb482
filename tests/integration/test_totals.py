"""Usage totals: the half-open window, its calendar-month defaults, feature selection and tenant isolation."""

from __future__ import annotations

import itertools
import string
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tally.domain.keys import MAX_FEATURE_KEYS
from tally.http.auth import Role
from tests.conftest import ONE_DATABASE, assert_problem, bearer, put_features, record, totals_url
from tests.factories import event_body, month_bounds

pytestmark = pytest.mark.anyio

MICROSECOND = timedelta(microseconds=1)
OCTOBER = datetime(2025, 10, 1, tzinfo=UTC)
NOVEMBER = datetime(2025, 11, 1, tzinfo=UTC)


@pytest.fixture
async def tenant(client) -> uuid.UUID:
    await put_features(client, "api_calls")
    return uuid.uuid4()


async def record_at(client, tenant: uuid.UUID, feature_key: str = "api_calls", **quantity_at: datetime) -> None:
    """Record one event per keyword ``quantity_at={name: timestamp}``; quantities are distinct powers of two."""
    events = [
        event_body(feature_key=feature_key, quantity=2**i, timestamp=at, idempotency_key=f"{feature_key}-{name}")
        for i, (name, at) in enumerate(quantity_at.items())
    ]
    assert await record(client, tenant, *events) == {"accepted": len(events), "duplicates": 0}


async def get_totals(client, tenant: uuid.UUID | str, headers: dict[str, str] | None = None, **params: object):
    response = await client.get(totals_url(tenant), params=params, headers=headers or bearer(Role.VIEWER, tenant))
    assert response.status_code == 200, response.text
    rows: list[dict[str, object]] = response.json()
    return rows


def window(row: dict[str, object]) -> tuple[datetime, datetime]:
    start, end = str(row["window_start"]), str(row["window_end"])
    for bound in (start, end):
        assert bound.endswith(("Z", "+00:00")), bound
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


# --- the window --------------------------------------------------------------------------------------


async def test_window_is_half_open(client, tenant) -> None:
    start, end = OCTOBER + timedelta(hours=6), OCTOBER + timedelta(hours=18)
    await record_at(
        client,
        tenant,
        before_start=start - MICROSECOND,  # 1
        at_start=start,  # 2
        before_end=end - MICROSECOND,  # 4
        at_end=end,  # 8
    )
    [row] = await get_totals(client, tenant, period_start=start.isoformat(), period_end=end.isoformat())
    assert row["quantity"] == 2 + 4
    assert window(row) == (start, end)

    [after] = await get_totals(client, tenant, period_start=end.isoformat(), period_end=(end + MICROSECOND).isoformat())
    assert after["quantity"] == 8


async def test_both_bounds_omitted_is_the_current_utc_month(client, tenant) -> None:
    before = datetime.now(UTC)
    await record(client, tenant, event_body(timestamp=None, quantity=6))
    [row] = await get_totals(client, tenant)
    after = datetime.now(UTC)
    assert window(row) in {month_bounds(before), month_bounds(after)}
    assert row["quantity"] == 6


@pytest.mark.parametrize(
    ("period_start", "expected_end"),
    [
        pytest.param("2025-10-15T12:00:00Z", NOVEMBER, id="mid-month"),
        pytest.param("2025-10-01T00:00:00Z", NOVEMBER, id="month-start"),
        pytest.param("2025-10-31T23:59:59.999999Z", NOVEMBER, id="last-instant"),
        pytest.param("2025-12-31T23:00:00Z", datetime(2026, 1, 1, tzinfo=UTC), id="december"),
        pytest.param("2025-11-01T01:00:00+02:00", NOVEMBER, id="offset-falls-in-october-utc"),
    ],
)
async def test_only_period_start_runs_to_the_next_month(client, tenant, period_start: str, expected_end) -> None:
    start = datetime.fromisoformat(period_start)
    await record_at(client, tenant, at_start=start, before_end=expected_end - MICROSECOND, at_end=expected_end)
    [row] = await get_totals(client, tenant, period_start=period_start)
    assert window(row) == (start, expected_end)
    assert row["quantity"] == 1 + 2


@pytest.mark.parametrize(
    ("period_end", "expected_start"),
    [
        pytest.param("2025-11-15T00:00:00Z", NOVEMBER, id="mid-month"),
        pytest.param("2025-11-01T00:00:00Z", OCTOBER, id="exactly-a-month-start"),
        pytest.param("2025-11-01T00:00:00.000001Z", NOVEMBER, id="just-after-a-month-start"),
        pytest.param("2025-01-01T00:00:00Z", datetime(2024, 12, 1, tzinfo=UTC), id="new-year"),
        pytest.param("2025-11-01T02:00:00+02:00", OCTOBER, id="offset-is-a-utc-month-start"),
    ],
)
async def test_only_period_end_runs_from_its_month_start(client, tenant, period_end: str, expected_start) -> None:
    end = datetime.fromisoformat(period_end)
    await record_at(client, tenant, before_start=expected_start - MICROSECOND, at_start=expected_start, at_end=end)
    [row] = await get_totals(client, tenant, period_end=period_end)
    assert window(row) == (expected_start, end)
    assert row["quantity"] == 2


@pytest.mark.parametrize(
    ("period_start", "period_end"),
    [
        pytest.param("2025-10-02T00:00:00Z", "2025-10-02T00:00:00Z", id="equal"),
        pytest.param("2025-10-02T00:00:00Z", "2025-10-01T00:00:00Z", id="reversed"),
        pytest.param("2025-10-02T00:00:00+02:00", "2025-10-01T22:00:00Z", id="equal-instants-other-offsets"),
    ],
)
@ONE_DATABASE
async def test_start_not_before_end_is_400(client, tenant, period_start: str, period_end: str) -> None:
    response = await client.get(
        totals_url(tenant),
        params={"period_start": period_start, "period_end": period_end},
        headers=bearer(Role.VIEWER, tenant),
    )
    assert_problem(response, 400, "period_start")


# --- datetimes in the query string -------------------------------------------------------------------


async def test_offset_sent_as_percent_2b_is_honoured(client, tenant) -> None:
    utc_start = datetime(2025, 9, 30, 22, tzinfo=UTC)
    await record_at(client, tenant, before=utc_start - MICROSECOND, at_start=utc_start)
    [row] = await get_totals(
        client, tenant, period_start="2025-10-01T00:00:00+02:00", period_end="2025-10-01T03:00:00+02:00"
    )
    assert window(row) == (utc_start, utc_start + timedelta(hours=3))
    assert row["window_start"] in ("2025-09-30T22:00:00Z", "2025-09-30T22:00:00+00:00")
    assert row["quantity"] == 2


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("period_start=2025-10-01T00:00:00+02:00", id="start"),
        pytest.param("period_end=2025-10-01T00:00:00+02:00", id="end"),
        pytest.param("period_start=2025-10-01T00:00:00+02:00&period_end=2025-10-02T00:00:00+02:00", id="both"),
    ],
)
@ONE_DATABASE
async def test_raw_plus_decoded_to_a_space_is_400_not_500(client, tenant, query: str) -> None:
    field = query.split("=", 1)[0]
    response = await client.get(f"{totals_url(tenant)}?{query}", headers=bearer(Role.VIEWER, tenant))
    assert_problem(response, 400, field)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("yesterday", id="word"),
        pytest.param("2025-13-01T00:00:00Z", id="month-13"),
        pytest.param("2025-10-01T25:00:00Z", id="hour-25"),
    ],
)
@ONE_DATABASE
async def test_bad_datetime_is_400_naming_the_parameter(client, tenant, value: str) -> None:
    for name in ("period_start", "period_end"):
        response = await client.get(totals_url(tenant), params={name: value}, headers=bearer(Role.VIEWER, tenant))
        assert_problem(response, 400, name)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"period_start": "9999-12-15T00:00:00Z"}, "period_start", id="no-month-after-start"),
        pytest.param({"period_end": "0001-01-01T00:00:00Z"}, "period_end", id="no-month-before-end"),
        pytest.param(
            {"period_start": "0001-01-01T00:00:00+01:00", "period_end": "2020-01-01T00:00:00Z"},
            "period_start",
            id="start-before-year-1-in-utc",
        ),
        pytest.param(
            {"period_start": "2020-01-01T00:00:00Z", "period_end": "9999-12-31T23:59:59-01:00"},
            "period_end",
            id="end-after-year-9999-in-utc",
        ),
    ],
)
@ONE_DATABASE
async def test_out_of_range_datetime_is_400_not_500(client, tenant, params: dict[str, str], field: str) -> None:
    response = await client.get(totals_url(tenant), params=params, headers=bearer(Role.VIEWER, tenant))
    assert_problem(response, 400, field)


@pytest.mark.parametrize(
    ("period_start", "period_end"),
    [
        pytest.param("0001-01-01T00:00:00Z", "0001-01-01T00:07:00Z", id="first-minutes"),
        pytest.param("9999-12-31T23:50:00.000001Z", "9999-12-31T23:59:59.999999Z", id="last-minutes"),
        pytest.param("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", id="everything"),
    ],
)
async def test_extreme_windows_are_answered(client, tenant, period_start: str, period_end: str) -> None:
    await record_at(client, tenant, first=datetime(1, 1, 1, tzinfo=UTC), later=OCTOBER)
    [row] = await get_totals(client, tenant, period_start=period_start, period_end=period_end)
    start, end = datetime.fromisoformat(period_start), datetime.fromisoformat(period_end)
    assert window(row) == (start, end)
    assert row["quantity"] == (1 if start.year == 1 else 0) + (2 if start <= OCTOBER < end else 0)


# --- feature selection ---------------------------------------------------------------------------------


@pytest.fixture
async def catalog(client, tenant) -> dict[str, int]:
    """Four features, created out of order; three of them with usage in October (``key -> quantity``)."""
    await put_features(client, "storage", unit="GB-hours")
    await put_features(client, "llm.tokens", unit="tokens")
    await put_features(client, "emails", unit="messages")
    used = {"api_calls": 3, "llm.tokens": 1200, "storage": 40}
    for key, quantity in used.items():
        await record(client, tenant, event_body(feature_key=key, quantity=quantity, timestamp=OCTOBER))
    return {"api_calls": 3, "emails": 0, "llm.tokens": 1200, "storage": 40}


OCTOBER_QUERY = {"period_start": OCTOBER.isoformat(), "period_end": NOVEMBER.isoformat()}


async def test_every_feature_sorted_with_zero_rows(client, tenant, catalog: dict[str, int]) -> None:
    rows = await get_totals(client, tenant, **OCTOBER_QUERY)
    assert [(r["feature_key"], r["quantity"]) for r in rows] == sorted(catalog.items())
    assert {r["feature_key"]: r["unit"] for r in rows} == {
        "api_calls": "requests",
        "emails": "messages",
        "llm.tokens": "tokens",
        "storage": "GB-hours",
    }


@pytest.mark.parametrize(
    "keys",
    [["storage"], ["storage", "api_calls"], ["emails", "llm.tokens", "storage"]],
    ids=["one", "two", "three"],
)
async def test_feature_keys_select_rows(client, tenant, catalog: dict[str, int], keys: list[str]) -> None:
    rows = await get_totals(client, tenant, feature_keys=keys, **OCTOBER_QUERY)
    assert [(r["feature_key"], r["quantity"]) for r in rows] == sorted((k, catalog[k]) for k in keys)


async def test_unknown_feature_key_is_400(client, tenant, catalog: dict[str, int]) -> None:
    response = await client.get(
        totals_url(tenant), params={"feature_keys": ["api_calls", "nope"]}, headers=bearer(Role.VIEWER, tenant)
    )
    assert_problem(response, 400, "feature_keys", "nope")


@ONE_DATABASE
async def test_more_than_100_feature_keys_is_400(client, tenant) -> None:
    keys = ["api_calls", *("".join(pair) for pair in itertools.product(string.ascii_lowercase, repeat=2))]
    response = await client.get(
        totals_url(tenant), params={"feature_keys": keys[: MAX_FEATURE_KEYS + 1]}, headers=bearer(Role.VIEWER, tenant)
    )
    assert_problem(response, 400, "feature_keys", str(MAX_FEATURE_KEYS))


async def test_no_catalog_means_no_rows(client) -> None:
    assert await get_totals(client, uuid.uuid4(), headers=bearer(Role.PLATFORM)) == []


# --- tenants ----------------------------------------------------------------------------------------------


async def test_tenants_are_isolated(client, tenant) -> None:
    other = uuid.uuid4()
    await record(client, tenant, event_body(quantity=5, timestamp=OCTOBER, idempotency_key="same-key"))
    await record(client, other, event_body(quantity=700, timestamp=OCTOBER, idempotency_key="same-key"))

    for role in (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER):
        [row] = await get_totals(client, tenant, headers=bearer(role, tenant), **OCTOBER_QUERY)
        assert row["quantity"] == 5

    response = await client.get(totals_url(other), params=OCTOBER_QUERY, headers=bearer(Role.VIEWER, tenant))
    body = assert_problem(response, 403)
    assert "700" not in str(body)
    assert str(other) not in str(body)


async def test_platform_reads_any_tenant(client, tenant) -> None:
    others = {uuid.uuid4(): q for q in (11, 22, 33)}
    for other, quantity in others.items():
        await record(client, other, event_body(quantity=quantity, timestamp=OCTOBER))
    for other, quantity in others.items():
        [row] = await get_totals(client, other, headers=bearer(Role.PLATFORM), **OCTOBER_QUERY)
        assert row["quantity"] == quantity


@ONE_DATABASE
async def test_non_uuid_tenant_is_400(client, tenant) -> None:
    response = await client.get(totals_url("tenant-a"), headers=bearer(Role.PLATFORM))
    assert_problem(response, 400, "tenant_id")
