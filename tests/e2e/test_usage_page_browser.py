"""The usage page in a real headless Chromium (Playwright driving Debian's ``chromium``; no browser download)
against a real server holding the demo's five weeks of usage.

Without /usr/bin/chromium or the playwright package these tests are skipped locally, but fail under CI
(``CI=true``), where they must run. ``TALLY_UPDATE_SCREENSHOT=1`` also saves the page as docs/usage-page.png.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from tally.db.migrate import upgrade
from tally.demo import DEMO_TENANT, load_demo
from tally.http.auth import Role, issue_token
from tally.ui import sign_in_link
from tests.conftest import TEST_SECRET, in_thread
from tests.e2e.conftest import running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).parents[2] / "docs" / "usage-page.png"
OTHER_TENANT = uuid.UUID("00000000-0000-4000-8000-0000000000ff")

# One worker runs the module under xdist, so that its browser and demo server (module fixtures) start once.
pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.xdist_group("usage-page-browser")]


def browser_unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests must run under CI: {reason}")
    pytest.skip(f"no headless browser: {reason}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        browser_unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        browser_unavailable(f"the playwright package is missing ({exc})")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


async def _load_demo(url: str) -> None:
    engine = create_async_engine(url)
    try:
        await load_demo(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def demo_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the demo server keeps its database and its log (``server.log``)."""
    return tmp_path_factory.mktemp("usage-page")


@pytest.fixture(scope="module")
def demo_server(demo_directory: Path) -> Iterator[str]:
    """A server on a fresh SQLite database holding the demo catalog and five weeks of the demo tenant's usage."""
    directory = demo_directory
    url = f"sqlite+aiosqlite:///{directory / 'demo.db'}"
    in_thread(upgrade, url)
    in_thread(asyncio.run, _load_demo(url))
    with running_server(url, directory / "server.log") as base_url:
        yield base_url


def viewer_token() -> str:
    return issue_token(TEST_SECRET, Role.VIEWER, DEMO_TENANT, subject="browser", ttl=timedelta(minutes=10))


def api_totals(base_url: str, **params: str) -> dict[str, int]:
    response = httpx.get(
        f"{base_url}/api/v1/billing/tenants/{DEMO_TENANT}/usage-totals",
        params=params,
        headers={"Authorization": f"Bearer {viewer_token()}"},
    )
    assert response.status_code == 200, response.text
    return {row["feature_key"]: row["quantity"] for row in response.json()}


def api_breakdown(base_url: str, key: str, **params: str) -> dict[str, int]:
    """The API's llm_tokens totals grouped by ``key``, "(none)" for events without it."""
    response = httpx.get(
        f"{base_url}/api/v1/billing/tenants/{DEMO_TENANT}/usage-totals",
        params={"feature_keys": "llm_tokens", "group_by": key, **params},
        headers={"Authorization": f"Bearer {viewer_token()}"},
    )
    assert response.status_code == 200, response.text
    return {row["dimensions"][key] or "(none)": row["quantity"] for row in response.json()}


def page_breakdown(page: Any) -> dict[str, int]:
    """The breakdown table's rows as a person reads them: value -> quantity, in page order."""
    rows = {}
    for row in page.get_by_role("table", name="llm_tokens by model").locator("tbody tr").all():
        rows[row.locator("th").inner_text().strip()] = int(row.locator("td").inner_text().replace(",", ""))
    return rows


def page_totals(page: Any) -> dict[str, int]:
    """What the cards show, as a person reads it ("1,234 requests")."""
    totals = {}
    for card in page.locator("section.card").all():
        text = card.locator("p.total").inner_text()
        totals[str(card.get_attribute("data-feature-key"))] = int(text.split()[0].replace(",", ""))
    return totals


def signed_in_page(browser: Any, base_url: str, width: int = 1280) -> Any:
    """A fresh browser context, signed in by pasting the viewer token into the form."""
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{base_url}/usage/sign-in")
    page.get_by_label("Token", exact=True).fill(viewer_token())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/usage/{DEMO_TENANT}")
    return page


def test_sign_in_then_totals_match_the_api_and_follow_the_period(browser: Any, demo_server: str) -> None:
    page = signed_in_page(browser, demo_server)
    assert "token" not in page.url
    assert page.get_by_role("heading", name="Usage", exact=True).is_visible()
    this_month = page_totals(page)
    assert this_month == api_totals(demo_server)
    assert set(this_month) == {"api_calls", "llm_tokens", "storage_gb_hours"}
    assert page.locator("svg.chart rect").count() > 0

    page.get_by_label("Show", exact=True).select_option("last_month")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**period=last_month**")
    last_month = page_totals(page)
    assert last_month != this_month
    first, last = (
        page.get_by_label("From", exact=True).input_value(),
        page.get_by_label("To (included)", exact=True).input_value(),
    )
    assert last_month == api_totals(demo_server, period_start=f"{first}T00:00:00Z", period_end=page_end(last))


def page_end(last_day: str) -> str:
    return f"{date.fromisoformat(last_day) + timedelta(days=1)}T00:00:00Z"


def test_a_custom_range_in_a_time_zone(browser: Any, demo_server: str) -> None:
    page = signed_in_page(browser, demo_server)
    page.get_by_label("From", exact=True).fill("2000-01-01")  # the page's script switches the picker to a custom range
    assert page.get_by_label("Show", exact=True).input_value() == "custom"
    three_days_ago = (datetime.now(ZoneInfo("America/New_York")) - timedelta(days=3)).date().isoformat()
    page.get_by_label("From", exact=True).fill(three_days_ago)
    page.get_by_label("To (included)", exact=True).fill(three_days_ago)
    page.get_by_label("Time zone", exact=True).fill("America/New_York")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**tz=America%2FNew_York**")
    day = page.get_by_label("From", exact=True).input_value()
    assert day == three_days_ago
    assert page.get_by_label("To (included)", exact=True).input_value() == day
    assert "America/New_York" in page.locator("#period-heading").inner_text()
    shown = page_totals(page)
    assert shown == one_local_day(demo_server, day, "America/New_York")
    assert shown["storage_gb_hours"] > 0  # the demo stores GB-hours once a day, at 00:00 UTC (19:00 or 20:00 here)


def one_local_day(base_url: str, day: str, zone: str) -> dict[str, int]:
    """The API's totals of one local day in ``zone``."""
    tz = ZoneInfo(zone)
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=tz)
    end = datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return api_totals(base_url, period_start=start.isoformat(), period_end=end.isoformat())


def test_a_breakdown_by_model_matches_the_api_and_follows_the_period(browser: Any, demo_server: str) -> None:
    page = signed_in_page(browser, demo_server)
    card = page.locator('section.card[data-feature-key="llm_tokens"]')
    assert page.locator('section.card[data-feature-key="api_calls"]').get_by_text("Break down by").count() == 0
    card.get_by_role("link", name="model", exact=True).click()
    page.wait_for_url("**breakdown=llm_tokens%3Amodel**")
    assert card.get_by_role("link", name="model", exact=True).get_attribute("aria-current") == "true"
    shown = page_breakdown(page)
    assert shown == api_breakdown(demo_server, "model")
    assert set(shown) == {"gpt-4o", "claude-sonnet", "llama-3"}
    assert list(shown.values()) == sorted(shown.values(), reverse=True)
    table = page.get_by_role("table", name="llm_tokens by model")
    assert table.locator("tfoot td").inner_text() == card.locator("p.total").inner_text().split()[0]

    # another period keeps the breakdown
    page.get_by_label("Show", exact=True).select_option("last_month")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**period=last_month**")
    first, last = (
        page.get_by_label("From", exact=True).input_value(),
        page.get_by_label("To (included)", exact=True).input_value(),
    )
    last_month = api_breakdown(demo_server, "model", period_start=f"{first}T00:00:00Z", period_end=page_end(last))
    assert page_breakdown(page) == last_month

    card.get_by_role("link", name="no breakdown").click()
    page.wait_for_url("**period=last_month**")
    assert "breakdown" not in page.url
    assert page.get_by_role("table", name="llm_tokens by model").count() == 0


def test_a_sign_in_link_clicked_on_another_site_signs_in(browser: Any, demo_server: str, demo_directory: Path) -> None:
    """As from an email or a chat: a page of another site links to the usage page. The session cookie is
    SameSite=Strict, which a browser withholds on any request that follows a cross-site click; the link must
    still sign in, and its token must end up neither in the address bar nor in the server's log."""
    encoded = viewer_token()
    link = sign_in_link(demo_server, encoded)
    other_site = "http://mail.example.test/inbox"
    page = browser.new_context().new_page()
    page.route(other_site, lambda route: route.fulfill(content_type="text/html", body=f'<a href="{link}">My usage</a>'))
    page.goto(other_site)
    page.get_by_role("link", name="My usage").click()
    page.wait_for_url(f"{demo_server}/usage/{DEMO_TENANT}")
    assert page_totals(page) == api_totals(demo_server)
    page.go_back()  # the sign-in page's history entry no longer holds the token either
    assert encoded not in page.url
    assert encoded not in (demo_directory / "server.log").read_text()


def test_another_tenants_page_is_refused(browser: Any, demo_server: str) -> None:
    page = signed_in_page(browser, demo_server)
    response = page.goto(f"{demo_server}/usage/{OTHER_TENANT}")
    assert response is not None
    assert response.status == 403
    assert page.get_by_role("heading", name="You can't see this page").is_visible()
    assert page.locator("section.card").count() == 0


def test_a_bad_token_goes_back_to_sign_in_with_a_message(browser: Any, demo_server: str) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{demo_server}/usage/sign-in")
    page.get_by_label("Token", exact=True).fill("eyJhbGciOiJIUzI1NiJ9.e30.forged")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/usage/sign-in?reason=invalid")
    assert "not accepted" in page.get_by_role("alert").inner_text()


def platform_token() -> str:
    return issue_token(TEST_SECRET, Role.PLATFORM, None, subject="browser", ttl=timedelta(minutes=10))


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now: half of its local day has passed, so a day limit's
    estimate is shown whatever the time of the test (Etc/GMT-N is N hours ahead of UTC)."""
    ahead = 12 - datetime.now(UTC).hour
    return "Etc/GMT" + (f"-{ahead}" if ahead > 0 else f"+{-ahead}" if ahead < 0 else "")


def put_day_limits(base_url: str) -> None:
    """The demo tenant's plan with overrides: api_calls limited per local day in ``noon_zone()`` (the demo
    sends about 275 an hour: the estimate goes over 6,000), llm_tokens to 1,000 per month (over the limit from
    the first hour)."""
    overrides = [
        {"feature_key": "api_calls", "limit": 6000, "period": "day"},
        {"feature_key": "llm_tokens", "limit": 1000, "period": "month", "enforcement": "reject"},
    ]
    response = httpx.put(
        f"{base_url}/api/v1/billing/tenants/{DEMO_TENANT}/plan",
        json={"plan_key": "starter", "timezone": noon_zone(), "overrides": overrides},
        headers={"Authorization": f"Bearer {platform_token()}"},
    )
    assert response.status_code == 200, response.text


def api_entitlements(base_url: str) -> dict[str, dict[str, Any]]:
    response = httpx.get(
        f"{base_url}/api/v1/billing/tenants/{DEMO_TENANT}/entitlements",
        headers={"Authorization": f"Bearer {viewer_token()}"},
    )
    assert response.status_code == 200, response.text
    return {row["feature_key"]: row for row in response.json()}


def test_cards_with_a_limit_show_used_of_limit_an_estimate_and_over_limit(browser: Any, demo_server: str) -> None:
    put_day_limits(demo_server)
    entitlements = api_entitlements(demo_server)
    page = signed_in_page(browser, demo_server)
    calls = page.locator('section.card[data-feature-key="api_calls"] .limit')
    used, limit = entitlements["api_calls"]["used"], entitlements["api_calls"]["limit"]
    assert used > 0
    assert (calls.get_attribute("data-used"), calls.get_attribute("data-limit")) == (str(used), str(limit))
    assert calls.locator(".limit-line").inner_text() == f"Limit today: {used:,} of {limit:,} requests"
    assert calls.get_by_role("img", name=f"{round(100 * min(used / limit, 1))}% of the limit used").is_visible()
    assert f"{max(limit - used, 0):,} requests left" in calls.inner_text()
    estimate = calls.locator(".projection")
    assert estimate.is_visible()
    assert estimate.inner_text().startswith("Estimate: about ")
    tokens = page.locator('section.card[data-feature-key="llm_tokens"]')
    assert entitlements["llm_tokens"]["over_limit"] is True
    # Said in words, not only in colour (the estimate's line may say it too, late in the day: its own label here).
    over = tokens.locator(".over-label")
    assert over.is_visible()
    assert "Over the limit" in (over.text_content() or "")
    assert page.locator('section.card[data-feature-key="storage_gb_hours"] .limit').count() == 0  # no limit


def test_last_month_in_new_york_shows_its_own_limit_and_that_it_went_over(browser: Any, demo_server: str) -> None:
    """The issue's page: "Last month" in America/New_York showed November's usage beside this month's limit and
    never said November went over, and its alerts' period read "Sat 31 Oct to Mon 30 Nov" for a UTC November."""
    new_york = ZoneInfo("America/New_York")
    this_month = datetime.now(new_york).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month_start = (this_month - timedelta(days=1)).replace(day=1)
    used = api_totals(demo_server, period_start=month_start.isoformat(), period_end=this_month.isoformat())
    assert used["api_calls"] > 1  # five weeks of demo usage always reach into last month
    limit = used["api_calls"] // 2
    # The tenant counts its months in UTC; a limit it went over in the month shown, alerting at 100%.
    headers = {"Authorization": f"Bearer {platform_token()}"}
    overrides = [{"feature_key": "api_calls", "limit": limit, "period": "month", "notify_at_percent": [100]}]
    response = httpx.put(
        f"{demo_server}/api/v1/billing/tenants/{DEMO_TENANT}/plan",
        json={"plan_key": "starter", "timezone": "UTC", "overrides": overrides},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    utc_month = datetime(month_start.year, month_start.month, 1, tzinfo=UTC)
    late = {"feature_key": "api_calls", "quantity": 1, "idempotency_key": f"late-{uuid.uuid4()}"}
    late["timestamp"] = (utc_month + timedelta(days=10)).isoformat()  # late usage: crosses 100% of that month
    response = httpx.post(
        f"{demo_server}/api/v1/billing/tenants/{DEMO_TENANT}/usage-events", json={"events": [late]}, headers=headers
    )
    assert response.status_code == 200, response.text

    page = signed_in_page(browser, demo_server)
    page.get_by_label("Show", exact=True).select_option("last_month")
    page.get_by_label("Time zone", exact=True).fill("America/New_York")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**period=last_month**")
    total = page_totals(page)["api_calls"]
    assert total == used["api_calls"] + 1
    calls = page.locator('section.card[data-feature-key="api_calls"] .limit')
    month = f"{month_start:%B %Y}"
    assert calls.locator(".limit-line").inner_text() == f"Limit in {month}: {total:,} of {limit:,} requests"
    assert calls.locator(".over-label").is_visible()
    assert f"Went over the limit by {total - limit:,} requests" in (calls.locator(".over-label").text_content() or "")
    assert "America/New_York" in calls.locator(".limit-note").inner_text()
    assert calls.locator(".projection").count() == 0  # no estimate for a period that is over

    ((period,),) = [
        row.locator("td").nth(4).all_inner_texts()
        for row in page.locator("table.recent-alerts tbody tr").all()
        if row.locator("td").nth(2).inner_text() == "100%"
    ]
    start, end = utc_month.astimezone(new_york), this_month.astimezone(UTC).replace(day=1, hour=0).astimezone(new_york)
    assert period == (
        f"{start:%a} {start.day} {start:%b %Y}, {start:%H:%M} to {end:%a} {end.day} {end:%b %Y}, {end:%H:%M}"
    )


def test_the_page_fits_a_375_px_screen_and_is_captured(browser: Any, demo_server: str, tmp_path: Path) -> None:
    sign_in = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    sign_in.goto(f"{demo_server}/usage/sign-in")
    assert sign_in.evaluate("document.documentElement.scrollWidth") <= 375
    narrow = signed_in_page(browser, demo_server, width=375)
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375
    narrow.get_by_role("link", name="region", exact=True).click()
    narrow.wait_for_url("**breakdown=llm_tokens%3Aregion**")
    assert narrow.get_by_role("table", name="llm_tokens by region").is_visible()
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375
    narrow.goto(f"{demo_server}/usage/{OTHER_TENANT}")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 375
    put_day_limits(demo_server)  # the picture shows limits with an estimate, one of them exceeded
    wide = signed_in_page(browser, demo_server)
    wide.get_by_role("link", name="model", exact=True).click()  # and a breakdown
    wide.wait_for_url("**breakdown=llm_tokens%3Amodel**")
    shot = tmp_path / "usage-page.png"
    wide.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("TALLY_UPDATE_SCREENSHOT"):
        shot.replace(SCREENSHOT)


def api_csv(base_url: str, **params: str) -> bytes:
    response = httpx.get(
        f"{base_url}/api/v1/billing/tenants/{DEMO_TENANT}/usage-totals",
        params=params,
        headers={"Authorization": f"Bearer {viewer_token()}", "Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    return response.content


def test_download_csv_saves_the_period_and_breakdown_shown(browser: Any, demo_server: str, tmp_path: Path) -> None:
    page = signed_in_page(browser, demo_server)
    page.get_by_label("Show", exact=True).select_option("last_month")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**period=last_month**")
    card = page.locator('section.card[data-feature-key="llm_tokens"]')
    card.get_by_role("link", name="model", exact=True).click()
    page.wait_for_url("**breakdown=llm_tokens%3Amodel**")
    first, last = (
        page.get_by_label("From", exact=True).input_value(),
        page.get_by_label("To (included)", exact=True).input_value(),
    )

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    saved = tmp_path / "saved.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename == f"usage-{DEMO_TENANT}-{first}-{last}-llm_tokens-by-model.csv"
    period = {"period_start": f"{first}T00:00:00Z", "period_end": page_end(last)}
    assert saved.read_bytes() == api_csv(demo_server, **period, feature_keys="llm_tokens", group_by="model")
    assert saved.read_bytes().count(b"\r\n") == 1 + 3  # the header and the three models of the demo
