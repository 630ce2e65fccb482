"""The usage page's "Download CSV" link: the period and breakdown shown, as the API's usage-totals CSV, behind the
page's own sign-in and tenant guard."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import PLATFORM, totals_url
from tests.integration.test_usage_page import OTHER, TENANT, load_models, sign_in, token

pytestmark = pytest.mark.anyio

LINK = re.compile(r'<a id="download-csv" href="([^"]+)" download>Download CSV</a>')


def download_link(page_html: str) -> str:
    (href,) = LINK.findall(page_html)
    return html.unescape(href)


async def api_csv(client: AsyncTestClient[Litestar], **params: object) -> bytes:
    r = await client.get(totals_url(TENANT), params=params, headers={**PLATFORM, "Accept": "text/csv"})
    assert r.status_code == 200, r.text
    return r.content


async def test_the_download_is_the_period_and_breakdown_shown(client: AsyncTestClient[Litestar]) -> None:
    now = datetime.now(UTC)
    await load_models(client, now)
    await sign_in(client, token())
    first, last = (now - timedelta(days=70)).date(), now.date()
    period = {"period": "custom", "start": first.isoformat(), "end": last.isoformat(), "tz": "Asia/Kolkata"}
    kolkata = timedelta(hours=5, minutes=30)
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC) - kolkata
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC) - kolkata
    bounds = {"period_start": start.isoformat(), "period_end": end.isoformat(), "timezone": "Asia/Kolkata"}

    page = await client.get(f"/usage/{TENANT}", params=period)
    link = download_link(page.text)
    assert link.startswith(f"/usage/{TENANT}/usage.csv?period=custom&start={first}&end={last}&tz=Asia%2FKolkata")
    download = await client.get(link)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv; charset=utf-8")
    assert download.headers["cache-control"] == "no-store"
    assert f'filename="usage-{TENANT}-{first}-{last}.csv"' in download.headers["content-disposition"]
    assert download.content == await api_csv(client, **bounds)
    assert b"\r\napi_calls,requests," in download.content

    page = await client.get(f"/usage/{TENANT}", params={**period, "breakdown": "llm_tokens:model"})
    download = await client.get(download_link(page.text))
    assert download.status_code == 200, download.text
    grouped = await api_csv(client, **bounds, feature_keys="llm_tokens", group_by="model")
    assert download.content == grouped
    assert download.content.startswith(
        b"feature_key,unit,quantity,window_start,window_end,approximate,final,dimensions.model\r\n"
    )
    assert b"gpt-4o" in download.content


async def test_the_download_keeps_the_pages_guard(client: AsyncTestClient[Litestar]) -> None:
    await load_models(client, datetime.now(UTC))
    anonymous = await client.get(f"/usage/{TENANT}/usage.csv", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/usage/sign-in?reason=missing"
    await sign_in(client, token())
    refused = await client.get(f"/usage/{OTHER}/usage.csv")
    assert refused.status_code == 403
    assert "text/csv" not in refused.headers["content-type"]
    bad = await client.get(f"/usage/{TENANT}/usage.csv", params={"breakdown": "llm_tokens:colour"})
    assert bad.status_code == 400
    assert "colour" in bad.text
