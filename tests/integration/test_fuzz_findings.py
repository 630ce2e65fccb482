"""Regression tests for what schemathesis found (tests/e2e/test_fuzz.py), one per fix."""

from __future__ import annotations

import re

import pytest
from litestar.routes import HTTPRoute

from tally.domain.keys import FEATURE_KEY_PATTERN
from tests.conftest import FEATURES_URL, ONE_DATABASE, PLATFORM, assert_problem

# Each answer here is decided before any SQL runs: one database is enough (tests/conftest.py, ONE_DATABASE).
pytestmark = [pytest.mark.anyio, ONE_DATABASE]


async def test_options_lists_every_method_of_the_path(client, app) -> None:
    """Litestar 2.25 listed only the first handler's methods (``GET, OPTIONS`` on ``/usage-events``, which
    also takes POST): schemathesis' ``allow_header_conformance`` check."""
    routes = [route for route in app.routes if isinstance(route, HTTPRoute)]
    assert any({"GET", "POST"} <= route.methods for route in routes)  # the case that was wrong
    for route in routes:
        path = re.sub(r"\{(\w+)[^}]*\}", "00000000-0000-0000-0000-000000000001", route.path_format)
        response = await client.options(path)
        assert response.status_code == 204, (path, response.text)
        assert set(response.headers["allow"].split(", ")) == route.methods, path


async def test_the_feature_key_path_parameter_declares_its_pattern(client, app) -> None:
    """The OpenAPI document said any string is a key, so schema-valid requests were refused with 400."""
    operation = app.openapi_schema.paths["/api/v1/billing/features/{feature_key}"].put
    (parameter,) = [p for p in operation.parameters if p.name == "feature_key"]
    assert parameter.schema.pattern == FEATURE_KEY_PATTERN
    assert_problem(
        await client.put(f"{FEATURES_URL}/0", json={"unit": "requests"}, headers=PLATFORM), 400, "feature_key"
    )


@pytest.mark.parametrize("value", ["0.5", "-1", "1e3", "2026"])
@pytest.mark.parametrize("path", ["usage-totals", "usage-events"])
@pytest.mark.parametrize("name", ["period_start", "period_end"])
async def test_a_number_is_not_a_datetime(client, path: str, name: str, value: str) -> None:
    """Litestar read ``period_start=0.5`` as a Unix timestamp and answered 200: ``negative_data_rejection``."""
    url = f"/api/v1/billing/tenants/00000000-0000-0000-0000-000000000001/{path}"
    assert_problem(await client.get(url, params={name: value}, headers=PLATFORM), 400, name, "ISO-8601")


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("period_start=%2B5", "period_start"),  # '+5', escaped
        ("period_start=+5", "period_start"),  # ' 5': a '+' is a space
        ("period_end=%31%32", "period_end"),  # '12', every digit escaped
        ("period%5Fstart=5", "period_start"),  # the name escaped
        ("as_of=%2D1&period_start=2026-06-01T00:00:00Z", "as_of"),
    ],
)
async def test_a_number_is_not_a_datetime_however_escaped(client, query: str, name: str) -> None:
    """The check looks at the raw query string first (a value with a literal T is no number) and decodes only
    what it cannot rule out there: an escaped number, or an escaped name, is still a 400."""
    url = f"/api/v1/billing/tenants/00000000-0000-0000-0000-000000000001/usage-totals?{query}"
    assert_problem(await client.get(url, headers=PLATFORM), 400, name, "ISO-8601")
