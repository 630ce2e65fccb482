"""Bad input is refused, never guessed: unknown fields, every bad field of a batch, decode failures, limits."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tally.cli import main
from tally.domain.errors import MAX_FIELD_ERRORS
from tally.domain.usage import MAX_BATCH
from tests.conftest import (
    FEATURES_URL,
    ONE_DATABASE,
    PLATFORM,
    assert_problem,
    clear,
    events_url,
    in_thread,
    post_events,
    put_features,
    record,
    totals_url,
)

# Each input here is refused before any SQL runs: one database is enough (tests/conftest.py, ONE_DATABASE).
pytestmark = [pytest.mark.anyio, ONE_DATABASE]

WINDOW = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z"}


@pytest.fixture
async def tenant(client) -> uuid.UUID:
    response = await client.put(
        f"{FEATURES_URL}/llm_tokens", json={"unit": "tokens", "dimensions": ["model"]}, headers=PLATFORM
    )
    assert response.status_code == 201, response.text
    return uuid.uuid4()


async def events_of(client, tenant: uuid.UUID) -> list[dict[str, object]]:
    response = await client.get(events_url(tenant), headers=PLATFORM)
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


async def test_a_typo_in_an_event_is_refused_and_its_correction_then_stored(client, tenant) -> None:
    """The issue's case: ``time`` and ``dimension`` were ignored (stored now, without dimensions), and the corrected
    re-send was a permanent 409."""
    typo = {"feature_key": "llm_tokens", "quantity": 7, "idempotency_key": "typo-1"}
    sent = typo | {"time": "2026-11-02T00:00:00Z", "dimension": {"model": "gpt-4o"}}
    body = assert_problem(await post_events(client, tenant, [sent]), 400, "events[0].time", "events[0].dimension")
    assert "did you mean 'timestamp'" in str(body["detail"])
    assert await events_of(client, tenant) == []
    fixed = typo | {"timestamp": "2026-11-02T00:00:00Z", "dimensions": {"model": "gpt-4o"}}
    assert await record(client, tenant, fixed) == {"accepted": 1, "duplicates": 0}


async def test_every_bad_field_of_every_event_is_named(client, tenant) -> None:
    good = {"feature_key": "llm_tokens", "quantity": 1, "idempotency_key": "ok"}
    batch = [
        good,
        {"feature_key": "llm_tokens", "qty": 5, "idempotency_key": "a"},
        {"feature_key": "llm_tokens", "quantity": "3", "idempotency_key": "b", "timestamp": 5},
        {"feature_key": "Bad Key", "quantity": -1, "idempotency_key": ""},
    ]
    body = assert_problem(await post_events(client, tenant, batch), 400)
    fields = [e["field"] for e in body["errors"]]  # type: ignore[union-attr]
    assert fields == [
        "events[1].qty",
        "events[1].quantity",
        "events[2].quantity",
        "events[2].timestamp",
        "events[3].feature_key",
        "events[3].quantity",
        "events[3].idempotency_key",
    ]
    assert body["type"] == "urn:tally:problem:invalid-input"
    assert await events_of(client, tenant) == []


async def test_the_errors_named_are_bounded(client, tenant) -> None:
    batch = [
        {"feature_key": "llm_tokens", "quantity": 1, "idempotency_key": f"k{i}", "qty": 1} for i in range(MAX_BATCH)
    ]
    body = assert_problem(
        await post_events(client, tenant, batch), 400, "events[0].qty", f"and {MAX_BATCH - MAX_FIELD_ERRORS} more"
    )
    assert len(body["errors"]) == MAX_FIELD_ERRORS  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "body", "named"),
    [
        pytest.param(f"{FEATURES_URL}/llm_tokens", {"unit": "tokens", "units": "x"}, "units", id="feature"),
        pytest.param(
            f"{FEATURES_URL}/llm_tokens", {"unit": "tokens", "aggregate": "max"}, "aggregate", id="feature-typo"
        ),
        pytest.param("void", {"reason": "r", "why": "x"}, "why", id="void"),
        pytest.param("events", {"events": [], "dry_run": True}, "dry_run", id="batch"),
    ],
)
async def test_an_unknown_field_of_any_body_is_named(client, tenant, url: str, body: object, named: str) -> None:
    await record(client, tenant, {"feature_key": "llm_tokens", "quantity": 1, "idempotency_key": "k"})
    target = {"void": f"{events_url(tenant)}/k/void", "events": events_url(tenant)}.get(url, url)
    method = client.put if target.startswith(FEATURES_URL) else client.post
    assert_problem(await method(target, json=body, headers=PLATFORM), 400, named)
    (event,) = await events_of(client, tenant)
    assert event["voided"] is False
    features = (await client.get(FEATURES_URL, headers=PLATFORM)).json()
    assert [(f["unit"], f["aggregation"]) for f in features] == [("tokens", "sum")]


@pytest.mark.parametrize(
    ("content", "slug", "named"),
    [
        pytest.param(b'{"events": [', "malformed-body", "not valid JSON", id="truncated"),
        pytest.param(b"{'events': []}", "malformed-body", "not valid JSON", id="not-json"),
        pytest.param(b'{"events": [{"feature_key": "\xff"}]}', "malformed-body", "not valid UTF-8", id="not-utf8"),
        pytest.param(
            b'{"events": [{"idempotency_key": "\\udaa0x"}]}',
            "invalid-input",
            "events[0].idempotency_key",
            id="surrogate",
        ),
        pytest.param(b"", "invalid-input", "body", id="empty"),
        pytest.param(b'{"events": "all"}', "invalid-input", "events", id="wrong-type"),
        pytest.param(b"[]", "invalid-input", "body", id="not-an-object"),
    ],
)
async def test_every_decode_failure_has_a_tally_type(client, tenant, content: bytes, slug: str, named: str) -> None:
    headers = {**PLATFORM, "content-type": "application/json"}
    body = assert_problem(await client.post(events_url(tenant), content=content, headers=headers), 400, named)
    assert body["type"] == f"urn:tally:problem:{slug}"


@pytest.mark.parametrize(
    ("value", "plus"),
    [("2026-11-31", False), ("yesterday", False), ("2026-11-01T00:00:00+05:00", True)],
)
async def test_a_bad_datetime_blames_a_plus_only_when_there_was_one(client, tenant, value: str, plus: bool) -> None:
    response = await client.get(f"{totals_url(tenant)}?period_start={value}", headers=PLATFORM)
    body = assert_problem(response, 400, "period_start", "is not an ISO-8601 datetime")
    assert ("%2B" in str(body["detail"])) is plus, body


async def test_413_says_the_limit(client, tenant) -> None:
    event = {"feature_key": "llm_tokens", "quantity": 1, "idempotency_key": "k", "padding": "x" * 1024 * 1024}
    body = assert_problem(await post_events(client, tenant, [event]), 413, "1048576 bytes", "TALLY_MAX_BODY_BYTES")
    assert body["type"] == "urn:tally:problem:body-too-large"


@pytest.mark.parametrize(
    ("method", "url", "status", "slug"),
    [("GET", "/api/v1/nothing", 404, "not-found"), ("DELETE", FEATURES_URL, 405, "method-not-allowed")],
)
async def test_litestar_answers_have_tally_types(client, method: str, url: str, status: int, slug: str) -> None:
    body = assert_problem(await client.request(method, url, headers=PLATFORM), status)
    assert body["type"] == f"urn:tally:problem:{slug}"


async def test_a_cookie_with_nul_is_refused(client) -> None:
    response = await client.get("/usage/", headers={"cookie": "tally_session=a\x00b"})
    assert_problem(response, 400, "cookie header")


@pytest.mark.parametrize(
    ("name", "content", "named"),
    [
        pytest.param(
            "catalog.json",
            json.dumps({"features": [{"feature_key": "a", "unit": "x\x00"}]}),
            "features[0].unit",
            id="json-nul",
        ),
        pytest.param(
            "catalog.json",
            '{"features": [{"feature_key": "a", "unit": "\\udaa0"}]}',
            "features[0].unit",
            id="json-surrogate",
        ),
        pytest.param(
            "catalog.json",
            json.dumps({"features": [{"feature_key": "a", "units": "x"}]}),
            "features[0].units",
            id="json-unknown",
        ),
        pytest.param(
            "catalog.toml", '[[features]]\nfeature_key = "a"\nunit = "x\\u0000"\n', "features[0].unit", id="toml-nul"
        ),
        pytest.param(
            "catalog.toml", '[[features]]\nfeature_key = "a"\nunit = "\\ud800"\n', "line 3", id="toml-surrogate"
        ),
        pytest.param(
            "catalog.toml",
            '[[features]]\nfeature_key = "a"\nunit = "x"\nunti = "y"\n',
            "features[0].unti",
            id="toml-unknown",
        ),
    ],
)
def test_the_catalog_file_is_refused_naming_the_field(
    database_url, monkeypatch, tmp_path: Path, capsys, name: str, content: str, named: str
) -> None:
    in_thread(asyncio.run, clear(database_url))
    monkeypatch.setenv("TALLY_DATABASE_URL", database_url)
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    assert in_thread(main, ["features", "load", str(path)]) == 2
    assert named in capsys.readouterr().err
    assert in_thread(asyncio.run, count_features(database_url)) == 0


async def count_features(database_url: str) -> int:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT count(*) FROM feature")) or 0)
    finally:
        await engine.dispose()


async def test_the_usage_pages_share_the_rule(client) -> None:
    await put_features(client, "api_calls")
    assert_problem(await client.get("/usage/sign-in", params={"reason": "a\x00"}), 400, "reason")
