"""The usage pages (/usage): cookie sign-in with the API's token rules, the tenant guard, and totals (also
broken down by a dimension) that equal the API's, read from the rendered HTML as a person would read them."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tally.app import create_app
from tally.config import Settings
from tally.http.auth import Role, issue_token
from tally.metering.periods import month_start, next_month_start
from tally.ui.signin import COOKIE, REASONS, sign_in_link
from tests.conftest import (
    FEATURES_URL,
    ONE_DATABASE,
    PLATFORM,
    TEST_SECRET,
    clear,
    put_features,
    quantities,
    record,
    totals_url,
)

TENANT = uuid.UUID("6f1c3a52-0000-4000-8000-00000000000a")
OTHER = uuid.UUID("6f1c3a52-0000-4000-8000-00000000000b")

pytestmark = pytest.mark.anyio


def token(role: Role = Role.VIEWER, tenant: uuid.UUID | None = TENANT, ttl: timedelta = timedelta(minutes=10)) -> str:
    return issue_token(TEST_SECRET, role, tenant, subject="page-test", ttl=ttl)


class Totals(HTMLParser):
    """``feature_key -> quantity`` as displayed on the page ("1,234 requests" in each card's total)."""

    def __init__(self) -> None:
        super().__init__()
        self.totals: dict[str, int] = {}
        self._feature: str | None = None
        self._in_total = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("data-feature-key"):
            self._feature = found["data-feature-key"]
        self._in_total = tag == "p" and found.get("class") == "total"

    def handle_data(self, data: str) -> None:
        if self._in_total and self._feature is not None:
            self.totals[self._feature] = int(data.split()[0].replace(",", ""))
            self._in_total = False


def shown_totals(page: Response) -> dict[str, int]:
    assert page.status_code == 200, page.text
    parser = Totals()
    parser.feed(page.text)
    return parser.totals


class Breakdown(HTMLParser):
    """The breakdown table as displayed: ``value -> quantity`` in page order, and its total row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, int] = {}
        self.total: int | None = None
        self._part: str | None = None  # thead, tbody or tfoot of the breakdown table
        self._cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and dict(attrs).get("class") == "by-value":
            self._part = "table"
        elif self._part and tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif self._part and tag in ("th", "td"):
            self._cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._part = None
        elif self._part and tag == "tr":
            label, number = (cell.strip() for cell in self._cells)
            self._cells = []
            if self._part == "tbody":
                self.rows[label] = int(number.replace(",", ""))
            elif self._part == "tfoot":
                assert label == "All values"
                self.total = int(number.replace(",", ""))

    def handle_data(self, data: str) -> None:
        if self._part and self._cells:
            self._cells[-1] += data


def shown_breakdown(page: Response) -> Breakdown:
    assert page.status_code == 200, page.text
    parser = Breakdown()
    parser.feed(page.text)
    return parser


async def sign_in(client: AsyncTestClient[Litestar], encoded: str, tenant: str = "") -> Response:
    return await client.post("/usage/sign-in", data={"token": encoded, "tenant": tenant}, follow_redirects=False)


async def load_usage(client: AsyncTestClient[Litestar], now: datetime) -> None:
    """Usage in this UTC month and in the last one, for TENANT and (larger) for OTHER."""
    await put_features(client, "api_calls")
    await put_features(client, "llm_tokens", unit="tokens")
    await put_features(client, "unused")
    this_month = month_start(now)
    in_this = this_month + (now - this_month) / 2
    in_last = month_start(this_month - timedelta(days=1)) + timedelta(days=1, hours=3)
    for tenant, factor in ((TENANT, 1), (OTHER, 1000)):
        await record(
            client,
            tenant,
            {
                "feature_key": "api_calls",
                "quantity": 1234 * factor,
                "timestamp": in_this.isoformat(),
                "idempotency_key": "a1",
            },
            {
                "feature_key": "api_calls",
                "quantity": 3 * factor,
                "timestamp": in_this.isoformat(),
                "idempotency_key": "a2",
            },
            {
                "feature_key": "llm_tokens",
                "quantity": 2_500_000,
                "timestamp": in_this.isoformat(),
                "idempotency_key": "t1",
            },
            {
                "feature_key": "api_calls",
                "quantity": 77 * factor,
                "timestamp": in_last.isoformat(),
                "idempotency_key": "a3",
            },
        )


@ONE_DATABASE
async def test_sign_in_sets_a_strict_http_only_cookie_for_the_pages_only(client: AsyncTestClient[Litestar]) -> None:
    response = await sign_in(client, token())
    assert response.status_code == 303
    assert response.headers["location"] == f"/usage/{TENANT}"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].strip().lower() == "samesite=strict"
    assert attributes["path"].strip() == "Path=/usage"
    assert "secure" not in attributes  # plain http here; see the https test
    assert (await client.get(f"/usage/{TENANT}")).status_code == 200


@ONE_DATABASE
async def test_the_cookie_is_secure_over_https(app: Litestar) -> None:
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as client:
        response = await sign_in(client, token())
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


@ONE_DATABASE
async def test_a_sign_in_link_carries_the_token_where_no_request_sends_it(client: AsyncTestClient[Litestar]) -> None:
    """The token rides in the fragment; the page's script posts it (the click from another site is in the
    browser test). A token in the query string, which servers and proxies log, signs nobody in."""
    encoded = token()
    link = sign_in_link("http://testserver.local", encoded)
    assert link == f"http://testserver.local/usage/sign-in#token={encoded}"
    page = await client.get(link, follow_redirects=False)  # what a browser requests: the fragment stays behind
    assert page.status_code == 200
    assert 'id="sign-in"' in page.text
    assert "location.hash" in page.text
    assert "set-cookie" not in page.headers
    in_query = await client.get(f"/usage/sign-in?token={encoded}", follow_redirects=False)
    assert in_query.status_code == 200
    assert "set-cookie" not in in_query.headers
    assert (await client.get(f"/usage/{TENANT}", follow_redirects=False)).status_code == 303


async def test_totals_on_the_page_equal_the_apis_and_follow_the_period(client: AsyncTestClient[Litestar]) -> None:
    now = datetime.now(UTC)
    await load_usage(client, now)
    await sign_in(client, token())
    this_month = shown_totals(await client.get(f"/usage/{TENANT}"))
    assert this_month == await quantities(client, TENANT)
    assert this_month == {"api_calls": 1237, "llm_tokens": 2_500_000, "unused": 0}

    last_start = month_start(month_start(now) - timedelta(days=1))
    last_month = shown_totals(await client.get(f"/usage/{TENANT}", params={"period": "last_month"}))
    assert last_month == await quantities(
        client, TENANT, period_start=last_start.isoformat(), period_end=month_start(now).isoformat()
    )
    assert last_month == {"api_calls": 77, "llm_tokens": 0, "unused": 0}


async def test_a_custom_range_in_a_time_zone_equals_the_apis_answer(client: AsyncTestClient[Litestar]) -> None:
    now = datetime.now(UTC)
    await load_usage(client, now)
    await sign_in(client, token())
    first = (now - timedelta(days=70)).date()
    last = now.date()
    params = {"period": "custom", "start": first.isoformat(), "end": last.isoformat(), "tz": "Asia/Kolkata"}
    page = await client.get(f"/usage/{TENANT}", params=params)
    kolkata = timedelta(hours=5, minutes=30)
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC) - kolkata
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC) - kolkata
    api = await quantities(client, TENANT, period_start=start.isoformat(), period_end=end.isoformat())
    assert shown_totals(page) == api
    assert api["api_calls"] == 1234 + 3 + 77
    assert "Asia/Kolkata" in page.text


async def test_the_daily_table_adds_up_to_the_total(client: AsyncTestClient[Litestar]) -> None:
    await load_usage(client, datetime.now(UTC))
    await sign_in(client, token())
    page = await client.get(f"/usage/{TENANT}")
    section = page.text.split('data-feature-key="api_calls"')[1].split("</section>")[0]
    cells = [int(cell.split("<")[0].replace(",", "")) for cell in section.split('<td class="num">')[1:]]
    assert sum(cells) == 1237
    assert section.count("<rect ") == len(cells)


async def test_an_empty_period_says_so(client: AsyncTestClient[Litestar]) -> None:
    await put_features(client, "api_calls")
    await sign_in(client, token())
    page = await client.get(f"/usage/{TENANT}")
    assert shown_totals(page) == {"api_calls": 0}
    assert "No usage in this period" in page.text
    assert "<svg" not in page.text


async def load_models(client: AsyncTestClient[Litestar], now: datetime) -> None:
    """llm_tokens declaring model and region, with usage per model this month (one event without a model)
    and last month; api_calls declaring none. OTHER has far more of the same models."""
    for key, body in (
        ("llm_tokens", {"unit": "tokens", "dimensions": ["model", "region"]}),
        ("api_calls", {"unit": "requests"}),
    ):
        response = await client.put(f"{FEATURES_URL}/{key}", json=body, headers=PLATFORM)
        assert response.status_code in (200, 201), response.text
    this_month = month_start(now)
    in_this = (this_month + (now - this_month) / 2).isoformat()
    in_last = (month_start(this_month - timedelta(days=1)) + timedelta(days=2)).isoformat()
    for tenant, factor in ((TENANT, 1), (OTHER, 1000)):
        events: list[dict[str, object]] = [
            {"quantity": 1_500_000, "timestamp": in_this, "dimensions": {"model": "gpt-4o", "region": "eu"}},
            {"quantity": 250, "timestamp": in_this, "dimensions": {"model": "gpt-4o", "region": "us"}},
            {"quantity": 2_000, "timestamp": in_this, "dimensions": {"model": "claude-sonnet"}},
            {"quantity": 7, "timestamp": in_this, "dimensions": {"region": "eu"}},
            {"quantity": 900, "timestamp": in_last, "dimensions": {"model": "llama-3"}},
        ]
        await record(
            client,
            tenant,
            *(
                {
                    **event,
                    "feature_key": "llm_tokens",
                    "quantity": int(str(event["quantity"])) * factor,
                    "idempotency_key": f"m{i}",
                }
                for i, event in enumerate(events)
            ),
            {"feature_key": "api_calls", "quantity": 5, "timestamp": in_this, "idempotency_key": "c1"},
        )


async def grouped(client: AsyncTestClient[Litestar], tenant: uuid.UUID, key: str, **params: str) -> dict[str, int]:
    """The API's llm_tokens totals grouped by ``key``: ``value -> quantity``, "(none)" for events without it."""
    response = await client.get(
        totals_url(tenant), params={"feature_keys": "llm_tokens", "group_by": key, **params}, headers=PLATFORM
    )
    assert response.status_code == 200, response.text
    return {row["dimensions"][key] or "(none)": row["quantity"] for row in response.json()}


async def test_a_breakdown_by_model_equals_the_apis_grouped_totals(client: AsyncTestClient[Litestar]) -> None:
    now = datetime.now(UTC)
    await load_models(client, now)
    await sign_in(client, token())
    plain = await client.get(f"/usage/{TENANT}")
    assert 'class="by-value"' not in plain.text
    assert (
        f'href="/usage/{TENANT}?period=this_month&amp;tz=UTC&amp;breakdown=llm_tokens%3Amodel#by-llm_tokens"'
        in plain.text
    )
    assert "breakdown=api_calls" not in plain.text  # api_calls declares no dimensions: nothing to offer

    page = await client.get(f"/usage/{TENANT}", params={"breakdown": "llm_tokens:model"})
    shown = shown_breakdown(page)
    assert shown.rows == await grouped(client, TENANT, "model")
    assert list(shown.rows.items()) == [("gpt-4o", 1_500_250), ("claude-sonnet", 2_000), ("(none)", 7)]  # largest first
    assert shown.total == shown_totals(page)["llm_tokens"] == 1_502_257
    assert "1,500,250" in page.text
    assert "(none): events without a model." in page.text
    assert shown_totals(page) == await quantities(client, TENANT)
    assert 'name="breakdown" value="llm_tokens:model"' in page.text  # a new period keeps the breakdown

    by_region = shown_breakdown(await client.get(f"/usage/{TENANT}", params={"breakdown": "llm_tokens:region"}))
    assert by_region.rows == await grouped(client, TENANT, "region") == {"eu": 1_500_007, "(none)": 2_000, "us": 250}

    # the chosen period and time zone hold for the breakdown, and its links keep them
    first, last = (now - timedelta(days=70)).date().isoformat(), now.date().isoformat()
    params = {"period": "custom", "start": first, "end": last, "tz": "Asia/Kolkata"}
    custom = await client.get(f"/usage/{TENANT}", params={**params, "breakdown": "llm_tokens:model"})
    kolkata = timedelta(hours=5, minutes=30)
    start = datetime.combine(datetime.fromisoformat(first), datetime.min.time(), tzinfo=UTC) - kolkata
    end = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC) - kolkata
    api = await grouped(client, TENANT, "model", period_start=start.isoformat(), period_end=end.isoformat())
    assert shown_breakdown(custom).rows == api
    assert api["llama-3"] == 900
    assert (
        f"period=custom&amp;start={first}&amp;end={last}&amp;tz=Asia%2FKolkata&amp;breakdown=llm_tokens%3Aregion"
        in custom.text
    )

    # the tenant guard is the page's, whatever is asked for
    refused = await client.get(f"/usage/{OTHER}", params={"breakdown": "llm_tokens:model"})
    assert refused.status_code == 403
    assert "1,500,250,000" not in refused.text
    assert 'class="by-value"' not in refused.text


@pytest.mark.parametrize(
    "breakdown",
    [
        "api_calls:model",
        "nope:model",
        "llm_tokens",
        "llm_tokens:",
        "llm_tokens:colour",
        "llm_tokens:Model'; --",
        "x" * 5000,
    ],
)
async def test_a_breakdown_the_catalog_does_not_offer_is_explained_on_a_normal_page(
    client: AsyncTestClient[Litestar], breakdown: str
) -> None:
    await load_models(client, datetime.now(UTC))
    await sign_in(client, token())
    page = await client.get(f"/usage/{TENANT}", params={"breakdown": breakdown})
    assert shown_totals(page) == await quantities(client, TENANT)  # asserts the 200 too
    assert 'id="breakdown-error"' in page.text
    assert "No breakdown shown" in page.text
    assert 'class="by-value"' not in page.text
    assert 'name="breakdown"' not in page.text


async def test_a_breakdown_of_a_period_without_usage_shows_no_values(client: AsyncTestClient[Litestar]) -> None:
    await load_models(client, datetime.now(UTC))
    await sign_in(client, token())
    page = await client.get(
        f"/usage/{TENANT}",
        params={"period": "custom", "start": "2001-01-01", "end": "2001-01-31", "breakdown": "llm_tokens:model"},
    )
    assert shown_totals(page) == {"api_calls": 0, "llm_tokens": 0}
    assert 'class="by-value"' not in page.text
    assert "breakdown-error" not in page.text


async def test_another_tenants_page_is_refused_and_platform_sees_any(client: AsyncTestClient[Litestar]) -> None:
    await load_usage(client, datetime.now(UTC))
    await sign_in(client, token())
    refused = await client.get(f"/usage/{OTHER}")
    assert refused.status_code == 403
    assert "1,234,000" not in refused.text
    assert 'class="total"' not in refused.text

    platform = await sign_in(client, token(Role.PLATFORM, None), tenant=str(OTHER))
    assert platform.headers["location"] == f"/usage/{OTHER}"
    assert shown_totals(await client.get(f"/usage/{OTHER}")) == await quantities(client, OTHER)


@ONE_DATABASE
async def test_a_platform_token_without_a_tenant_is_asked_for_one(client: AsyncTestClient[Litestar]) -> None:
    response = await sign_in(client, token(Role.PLATFORM, None))
    assert response.headers["location"] == "/usage"
    page = await client.get("/usage", follow_redirects=False)
    assert page.status_code == 200
    assert 'name="tenant"' in page.text
    chosen = await client.get("/usage", params={"tenant": str(OTHER)}, follow_redirects=False)
    assert chosen.headers["location"] == f"/usage/{OTHER}"
    not_a_tenant = await client.get("/usage", params={"tenant": "//elsewhere.example"}, follow_redirects=False)
    assert not_a_tenant.status_code == 400
    assert REASONS["tenant"] in not_a_tenant.text


@ONE_DATABASE
async def test_bad_or_expired_tokens_go_back_to_sign_in_with_a_message(client: AsyncTestClient[Litestar]) -> None:
    expired = token(ttl=timedelta(seconds=-30))
    forged = issue_token("another-secret-0123456789abcdef-012345", Role.VIEWER, TENANT)
    for encoded, reason in ((expired, "expired"), (forged, "invalid"), ("not a jwt", "invalid"), ("  ", "empty")):
        response = await sign_in(client, encoded)
        assert response.status_code == 303
        assert response.headers["location"] == f"/usage/sign-in?reason={reason}"
        form = await client.get(response.headers["location"])
        assert form.status_code == 401
        assert REASONS[reason] in form.text.replace("&#39;", "'")

    # a cookie that has gone bad sends the page back to sign-in, and the cookie is cleared
    client.cookies.set(COOKIE, forged, domain="testserver.local", path="/usage")
    response = await client.get(f"/usage/{TENANT}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/usage/sign-in?reason=invalid"
    assert COOKIE in response.headers["set-cookie"]
    assert (await client.get(f"/usage/{TENANT}", follow_redirects=False)).headers["location"].endswith("missing")


@ONE_DATABASE
async def test_the_sign_in_page_sends_a_tenant_to_its_operator_not_to_a_command(
    client: AsyncTestClient[Litestar],
) -> None:
    """A tenant's people cannot run ``tally token``: the page says whom to ask; the command is in the docs only."""
    for url in ("/usage/sign-in", "/usage/sign-in?reason=expired", "/usage/sign-in?reason=missing"):
        page = (await client.get(url)).text.replace("&#39;", "'")
        assert "ask your tally operator" in page.lower(), url
        assert "tally token" not in page, url
        assert "--role" not in page, url


@ONE_DATABASE
async def test_no_redirect_after_sign_in_carries_the_token(client: AsyncTestClient[Litestar]) -> None:
    encoded = token()
    locations = []
    for response in (
        await sign_in(client, encoded),
        await client.get("/usage", follow_redirects=False),
        await client.post("/usage/sign-out", follow_redirects=False),
        await sign_in(client, token(ttl=timedelta(seconds=-1))),
    ):
        assert response.status_code == 303
        locations.append(response.headers["location"])
    assert all("token" not in location and "eyJ" not in location for location in locations), locations


@ONE_DATABASE
async def test_sign_out_clears_the_cookie(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, token())
    assert (await client.get(f"/usage/{TENANT}", follow_redirects=False)).status_code == 200
    response = await client.post("/usage/sign-out", follow_redirects=False)
    assert response.headers["location"] == "/usage/sign-in?reason=signed-out"
    assert "Max-Age=0" in response.headers["set-cookie"] or "expires=" in response.headers["set-cookie"].lower()
    assert (await client.get(f"/usage/{TENANT}", follow_redirects=False)).status_code == 303
    signed_out = await client.get(response.headers["location"])
    assert signed_out.status_code == 200
    assert REASONS["signed-out"] in signed_out.text


@ONE_DATABASE
async def test_a_bearer_header_does_not_open_the_pages(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get(
        f"/usage/{TENANT}", headers={"Authorization": f"Bearer {token()}"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/usage/sign-in?reason=missing"


@ONE_DATABASE
async def test_bad_form_values_are_explained_on_the_page(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, token())
    bad_zone = await client.get(f"/usage/{TENANT}", params={"tz": "Mars/Olympus"})
    assert bad_zone.status_code == 400
    assert "Mars/Olympus" in bad_zone.text
    assert "timezone" in bad_zone.text
    backwards = await client.get(
        f"/usage/{TENANT}", params={"period": "custom", "start": "2026-11-10", "end": "2026-11-01"}
    )
    assert backwards.status_code == 400
    assert "must not be before" in backwards.text
    not_a_tenant = await client.get("/usage/not-a-uuid")
    assert not_a_tenant.status_code == 400
    assert "not a tenant id" in not_a_tenant.text


@ONE_DATABASE
async def test_the_pages_stay_out_of_the_openapi_document(client: AsyncTestClient[Litestar]) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/usage")]


async def test_a_distinct_count_card_shows_distinct_users_not_events(client: AsyncTestClient[Litestar]) -> None:
    body = {"unit": "users", "aggregation": "unique_count", "unique_by": "user_id", "dimensions": ["user_id"]}
    assert (await client.put(f"{FEATURES_URL}/active_users", json=body, headers=PLATFORM)).status_code == 201
    now = datetime.now(UTC)
    at = max(month_start(now), now - timedelta(hours=2)).isoformat()
    await record(
        client,
        TENANT,
        *(
            {
                "feature_key": "active_users",
                "quantity": 1,
                "timestamp": at,
                "idempotency_key": f"u{i}",
                "dimensions": {"user_id": user},
            }
            for i, user in enumerate(["ann", "bob", "ann", "ann"])
        ),
    )
    await sign_in(client, token())
    shown = shown_totals(await client.get(f"/usage/{TENANT}"))
    assert shown["active_users"] == 2
    assert shown == await quantities(client, TENANT)


async def test_a_card_with_a_limit_shows_used_of_limit_and_stands_out_when_over(
    client: AsyncTestClient[Litestar],
) -> None:
    await put_features(client, "api_calls", "tokens", "free")
    limits = [{"feature_key": "api_calls", "limit": 1000}, {"feature_key": "tokens", "limit": 10, "period": "day"}]
    assert (
        await client.put("/api/v1/billing/plans/pro", json={"name": "Pro", "limits": limits}, headers=PLATFORM)
    ).status_code == 201
    plan = await client.put(f"/api/v1/billing/tenants/{TENANT}/plan", json={"plan_key": "pro"}, headers=PLATFORM)
    assert plan.status_code == 200
    await record(
        client,
        TENANT,
        {"feature_key": "api_calls", "quantity": 250, "idempotency_key": "a"},
        {"feature_key": "tokens", "quantity": 11, "idempotency_key": "t"},
    )
    await sign_in(client, token())
    page = await client.get(f"/usage/{TENANT}")
    cards = {
        key: page.text.split(f'data-feature-key="{key}"')[1].split("</section>")[0]
        for key in ("api_calls", "tokens", "free")
    }
    assert 'data-used="250" data-limit="1000"' in cards["api_calls"]
    assert "Limit this month: <strong>250</strong> of 1,000 requests" in cards["api_calls"]
    assert "750 requests left" in cards["api_calls"]
    assert "25% of the limit used" in cards["api_calls"]
    assert "Over the limit" not in cards["api_calls"]
    assert "Limit today: <strong>11</strong> of 10 requests" in cards["tokens"]
    assert "Over the limit" in cards["tokens"]
    assert "0 requests left" in cards["tokens"]
    assert "card-over" in page.text.split('data-feature-key="tokens"')[0].rsplit("<section", 1)[1]
    assert 'class="limit' not in cards["free"]


ALERT_ROW = re.compile(r'<tr data-status="([a-z]+)">(.*?)</tr>')


def shown_alerts(page: Response) -> list[list[str]]:
    """The recent alerts' rows as displayed: each row's cells' text, then its ``data-status``."""
    assert page.status_code == 200, page.text
    table = (
        page.text.split('<table class="recent-alerts">', 1)[1].split("</table>", 1)[0]
        if "recent-alerts" in page.text
        else ""
    )
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", cells)] + [status]
        for status, cells in ALERT_ROW.findall(table)
    ]


async def test_recent_alerts_show_the_tenants_own_crossings_and_their_delivery(database_url: str) -> None:
    await clear(database_url)
    # Nothing is sent: the deliveries stay pending, whatever the network does with the endpoint's host.
    settings = Settings(database_url=database_url, jwt_secret=TEST_SECRET, webhook_delivery_enabled=False)
    async with AsyncTestClient(app=create_app(settings)) as client:
        await put_features(client, "api_calls")
        limits = [{"feature_key": "api_calls", "limit": 100, "notify_at_percent": [50, 90]}]
        plan = await client.put(
            "/api/v1/billing/plans/alerting", json={"name": "A", "limits": limits}, headers=PLATFORM
        )
        assert plan.status_code == 201, plan.text
        for tenant in (TENANT, OTHER):
            assigned = await client.put(
                f"/api/v1/billing/tenants/{tenant}/plan", json={"plan_key": "alerting"}, headers=PLATFORM
            )
            assert assigned.status_code == 200, assigned.text
        await sign_in(client, token())
        assert "No usage alerts yet" in (await client.get(f"/usage/{TENANT}")).text
        endpoint = await client.post(
            "/api/v1/billing/webhook-endpoints", json={"url": "https://hooks.example.com/tally"}, headers=PLATFORM
        )
        assert endpoint.status_code == 201, endpoint.text
        await record(client, TENANT, {"feature_key": "api_calls", "quantity": 60, "idempotency_key": "a"})
        await record(client, OTHER, {"feature_key": "api_calls", "quantity": 95, "idempotency_key": "a"})

        ((when, feature, threshold, used, period, delivery, status),) = shown_alerts(
            await client.get(f"/usage/{TENANT}")
        )
        assert (feature, threshold, used, delivery, status) == ("api_calls", "50%", "60 of 100", "pending", "pending")
        start = month_start(datetime.now(UTC))
        assert period == f"{start:%B %Y}"  # the month, as it is a whole month in the page's zone (UTC)
        assert when.startswith(f"{datetime.now(UTC):%a} {datetime.now(UTC).day} ")

        await sign_in(client, token(Role.PLATFORM, None))
        other = shown_alerts(await client.get(f"/usage/{OTHER}"))
        assert [(row[2], row[3]) for row in other] == [("90%", "95 of 100"), ("50%", "95 of 100")]


async def test_final_figures_and_the_grace_end_are_marked(client: AsyncTestClient[Litestar]) -> None:
    now = datetime.now(UTC)
    await load_usage(client, now)
    r = await client.put("/api/v1/billing/plans/pro", json={"name": "Pro", "grace_period": "P90D"}, headers=PLATFORM)
    assert r.status_code == 201, r.text
    r = await client.put(f"/api/v1/billing/tenants/{TENANT}/plan", json={"plan_key": "pro"}, headers=PLATFORM)
    assert r.status_code == 200, r.text
    await sign_in(client, token())
    this_month = (await client.get(f"/usage/{TENANT}")).text
    grace_end = next_month_start(now) + timedelta(days=90)
    assert 'id="grace-note"' in this_month
    assert f"late usage is accepted until {grace_end:%a} {grace_end.day} {grace_end:%b %Y}, 00:00" in this_month
    assert "in its grace period until" in this_month  # last month
    assert 'class="quiet-text final"' not in this_month

    close = {"period_end": month_start(now).isoformat()}
    r = await client.post(f"/api/v1/billing/tenants/{TENANT}/periods/close", json=close, headers=PLATFORM)
    assert r.status_code == 200, r.text
    last_month = (await client.get(f"/usage/{TENANT}", params={"period": "last_month"})).text
    assert last_month.count('class="quiet-text final"') == 3  # every feature's card
    assert shown_totals(await client.get(f"/usage/{TENANT}", params={"period": "last_month"}))["api_calls"] == 77
    assert "in its grace period until" not in last_month
