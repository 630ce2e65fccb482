"""Rotating the token secret: tokens signed with TALLY_JWT_PREVIOUS_SECRET work until
TALLY_JWT_PREVIOUS_SECRET_UNTIL, and are 401 after it; tokens of the current secret work throughout."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tally.app import create_app
from tally.config import Settings
from tally.http.auth import Role, issue_token
from tests.conftest import FEATURES_URL, ONE_DATABASE, TEST_SECRET, assert_problem, bearer

# Every token here is judged before any SQL runs: one database is enough (tests/conftest.py, ONE_DATABASE).
pytestmark = [pytest.mark.anyio, ONE_DATABASE]

PREVIOUS = "previous-secret-0123456789abcdef-0123456789"
UNRELATED = "unrelated-secret-0123456789abcdef-012345678"
TENANT = uuid.uuid4()


class Rotation:
    def __init__(self, client: AsyncTestClient[Litestar], in_grace: bool) -> None:
        self.client, self.in_grace = client, in_grace

    async def status(self, secret: str) -> int:
        """The status of a catalog read with a viewer token signed with ``secret`` (401s checked for shape)."""
        response = await self.client.get(FEATURES_URL, headers=bearer("viewer", TENANT, secret=secret))
        if response.status_code == 401:
            assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")
        return response.status_code


@pytest.fixture(params=["in-grace", "after-grace"])
async def rotation(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Rotation]:
    """An app whose grace period for the previous secret ends in an hour, or ended a second ago."""
    in_grace = request.param == "in-grace"
    settings = Settings(
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        jwt_previous_secret=PREVIOUS,
        jwt_previous_secret_until=datetime.now(UTC) + (timedelta(hours=1) if in_grace else timedelta(seconds=-1)),
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield Rotation(client, in_grace)


async def test_current_secret_works_throughout(rotation: Rotation) -> None:
    assert await rotation.status(TEST_SECRET) == 200


async def test_previous_secret_works_only_during_the_grace_period(rotation: Rotation) -> None:
    expected = 200 if rotation.in_grace else 401
    assert await rotation.status(PREVIOUS) == expected
    assert await rotation.status(PREVIOUS) == expected  # again, now through the verified-token cache


async def test_an_unrelated_secret_is_refused(rotation: Rotation) -> None:
    assert await rotation.status(UNRELATED) == 401


async def test_previous_secret_is_refused_without_a_rotation(client) -> None:
    response = await client.get(FEATURES_URL, headers=bearer("viewer", TENANT, secret=PREVIOUS))
    assert_problem(response, 401)


async def test_an_expired_token_says_so_whichever_secret_signed_it(rotation: Rotation) -> None:
    secrets = [TEST_SECRET, PREVIOUS] if rotation.in_grace else [TEST_SECRET]
    for secret in secrets:
        token = issue_token(secret, Role.VIEWER, TENANT, ttl=timedelta(seconds=-5))
        response = await rotation.client.get(FEATURES_URL, headers={"Authorization": f"Bearer {token}"})
        assert assert_problem(response, 401)["detail"] == "token expired"


async def test_a_remembered_header_is_refused_once_its_token_expires(client) -> None:
    # The middleware remembers a header's principal (no rotation here): it lasts as long as the token, no longer.
    # Two seconds: a token's exp is a whole second, so one issued late in a second lives at least one more.
    token = issue_token(TEST_SECRET, Role.VIEWER, TENANT, subject="test", ttl=timedelta(seconds=2))
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get(FEATURES_URL, headers=headers)).status_code == 200
    assert (await client.get(FEATURES_URL, headers=headers)).status_code == 200  # the remembered principal
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.1)
    assert assert_problem(await client.get(FEATURES_URL, headers=headers), 401)["detail"] == "token expired"


async def test_a_remembered_principal_still_meets_each_routes_permission(client) -> None:
    headers = bearer("viewer", TENANT)
    assert (await client.get(FEATURES_URL, headers=headers)).status_code == 200
    other = f"/api/v1/billing/tenants/{uuid.uuid4()}/usage-totals"
    assert_problem(await client.get(other, headers=headers), 403)  # another tenant's: refused, remembered or not
    assert_problem(await client.put(f"{FEATURES_URL}/x", json={"unit": "u"}, headers=headers), 403)  # not a viewer's
