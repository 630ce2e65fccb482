"""`tally credits grant`, run in-process through ``main(argv)`` on a real database: the grant is the API's."""

from __future__ import annotations

import json
import uuid

import pytest

from tally.cli import main
from tests.conftest import PLATFORM, clear, in_thread, put_features


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    in_thread(__import__("asyncio").run, clear(database_url))
    monkeypatch.setenv("TALLY_DATABASE_URL", database_url)
    monkeypatch.delenv("TALLY_JWT_SECRET", raising=False)
    return database_url


@pytest.mark.anyio
async def test_support_grants_credits_from_the_command_line(database: str, client, capsys) -> None:
    await put_features(client, "api_calls")
    tenant = uuid.uuid4()
    argv = ["credits", "grant", "--tenant", str(tenant), "--feature", "api_calls", "--amount", "1000"]
    argv += ["--note", "goodwill, ticket 123", "--grant-id", "goodwill-123", "--expires-at", "2099-01-01T00:00:00Z"]
    assert in_thread(main, argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["grant_id"], printed["amount"], printed["state"]) == ("goodwill-123", 1000, "active")
    assert in_thread(main, argv) == 0  # a retry is the same grant
    assert json.loads(capsys.readouterr().out)["grant_id"] == "goodwill-123"
    listed = (await client.get(f"/api/v1/billing/tenants/{tenant}/grants", headers=PLATFORM)).json()
    assert [(g["grant_id"], g["note"]) for g in listed] == [("goodwill-123", "goodwill, ticket 123")]

    assert in_thread(main, [*argv[:-4], "--amount", "5", "--grant-id", "goodwill-123"]) == 2
    assert "goodwill-123" in capsys.readouterr().err
    bad = ["credits", "grant", "--tenant", str(tenant), "--feature", "nope", "--amount", "1"]
    assert in_thread(main, bad) == 2
    assert "feature_key" in capsys.readouterr().err
