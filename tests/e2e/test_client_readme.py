"""The client README's examples run as written against a live server: the docs cannot drift from the code."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx
import pytest

from tally.http.auth import ALLOWED, Permission, Role, issue_token
from tests.conftest import PLATFORM, TEST_SECRET

README = Path(__file__).resolve().parents[2] / "client" / "README.md"
TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")  # the tenant the README uses


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.mark.e2e
def test_readme_examples_run(
    sqlite_server: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpx.put(f"{sqlite_server}/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=PLATFORM)
    dimensions = {"unit": "tokens", "dimensions": ["model", "region"]}
    httpx.put(f"{sqlite_server}/api/v1/billing/features/llm_tokens", json=dimensions, headers=PLATFORM)
    token = issue_token(TEST_SECRET, Role.ADMIN, TENANT, subject="readme")
    plan = {"name": "Pro", "limits": [{"feature_key": "api_calls", "limit": 100, "enforcement": "reject"}]}
    httpx.put(f"{sqlite_server}/api/v1/billing/plans/pro", json=plan, headers=PLATFORM)
    httpx.put(f"{sqlite_server}/api/v1/billing/tenants/{TENANT}/plan", json={"plan_key": "pro"}, headers=PLATFORM)
    sync_code, naive_code, async_code, dimensions_code, entitlement_code, csv_code = (
        code.replace("http://127.0.0.1:8000", sqlite_server).replace("<a token from `tally token`>", token)
        for code in snippets()
        if "Recorder" not in code  # the recorder's examples: tests/e2e/test_recorder_readme.py
    )
    scope: dict[str, object] = {}
    exec(compile(sync_code, "client/README.md", "exec"), scope)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "1 0"  # accepted, duplicates
    assert printed[1].startswith("api_calls 3 requests ")

    exec(compile(naive_code, "client/README.md", "exec"), scope)
    (refused,) = capsys.readouterr().out.splitlines()
    assert refused.startswith("timestamp: a datetime without a time zone is refused")

    exec(compile(async_code, "client/README.md", "exec"), scope)
    scope["client"] = scope["AuthenticatedClient"](base_url=sqlite_server, token=token)  # type: ignore[operator]
    asyncio.run(scope["report"](scope["client"]))  # type: ignore[operator]

    exec(compile(dimensions_code, "client/README.md", "exec"), scope)
    assert capsys.readouterr().out.splitlines() == ["gpt-4o 1200"]

    exec(compile(entitlement_code, "client/README.md", "exec"), scope)
    url = f"{sqlite_server}/api/v1/billing/tenants/{TENANT}/entitlements/api_calls"
    api = httpx.get(url, headers={"Authorization": f"Bearer {token}"}).json()
    assert api["limit"] == 100
    assert capsys.readouterr().out.splitlines() == [f"{api['used']} {api['limit']} {api['remaining']}"]
    monkeypatch.chdir(tmp_path)  # the CSV example writes events.csv where it runs
    exec(compile(csv_code, "client/README.md", "exec"), scope)
    header, row = (tmp_path / "events.csv").read_text(encoding="utf-8").splitlines()
    assert header.startswith("idempotency_key,feature_key,quantity,timestamp,")
    assert row.startswith("req-7f3a,api_calls,3,2026-11-25T10:15:00Z,")  # November's event, not December's


def test_readme_says_which_roles_may_do_what() -> None:
    """The roles table of the client README is the service's own rule (``tally.http.auth.ALLOWED``)."""
    table = README.read_text().split("## Tokens and roles", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| `")]
    granted: dict[Permission, set[Role]] = {permission: set() for permission in ALLOWED}
    for roles, *cells in rows:
        for permission, cell in zip(ALLOWED, cells, strict=True):
            if not cell.strip().startswith("no"):
                granted[permission] |= {Role(name) for name in re.findall(r"`(\w+)`", roles)}
    assert granted == {permission: set(roles) for permission, roles in ALLOWED.items()}


def test_dimensions_take_the_form_the_readme_shows() -> None:
    from tally_client.models import UsageEventIn, UsageEventInDimensions

    good = UsageEventIn(
        feature_key="llm_tokens",
        quantity=1,
        idempotency_key="k",
        dimensions=UsageEventInDimensions.from_dict({"model": "gpt-4o"}),
    )
    assert good.to_dict()["dimensions"] == {"model": "gpt-4o"}
    plain = UsageEventIn(feature_key="llm_tokens", quantity=1, idempotency_key="k", dimensions={"model": "gpt-4o"})  # type: ignore[arg-type]
    with pytest.raises(AttributeError):  # what the README warns about
        plain.to_dict()
