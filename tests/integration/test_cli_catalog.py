"""`tally migrate` and `tally features load`, run in-process through ``main(argv)`` on a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tally.cli import main
from tests.conftest import ONE_DATABASE, PLATFORM, clear, in_thread

CATALOG_JSON = {
    "features": [
        {"feature_key": "api_calls", "unit": "requests", "description": "HTTP API requests"},
        {"feature_key": "peak_gb", "unit": "GB", "aggregation": "max"},
    ]
}
CATALOG_TOML = """
[[features]]
feature_key = "api_calls"
unit = "calls"
"""


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    in_thread(__import__("asyncio").run, clear(database_url))
    monkeypatch.setenv("TALLY_DATABASE_URL", database_url)
    monkeypatch.delenv("TALLY_JWT_SECRET", raising=False)  # neither command needs a secret
    return database_url


def test_migrate_is_idempotent(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert in_thread(main, ["migrate"]) == 0
    assert "latest schema" in capsys.readouterr().out


@pytest.mark.anyio
async def test_features_load_creates_then_updates(database: str, tmp_path: Path, client, capsys) -> None:
    first = tmp_path / "catalog.json"
    first.write_text(json.dumps(CATALOG_JSON))
    assert in_thread(main, ["features", "load", str(first)]) == 0
    assert capsys.readouterr().out.splitlines() == ["created api_calls (requests, sum)", "created peak_gb (GB, max)"]

    second = tmp_path / "catalog.toml"
    second.write_text(CATALOG_TOML)
    assert in_thread(main, ["features", "load", str(second)]) == 0
    assert capsys.readouterr().out.splitlines() == ["updated api_calls (calls, sum)"]

    listed = (await client.get("/api/v1/billing/features", headers=PLATFORM)).json()
    assert [(f["feature_key"], f["unit"], f["aggregation"]) for f in listed] == [
        ("api_calls", "calls", "sum"),
        ("peak_gb", "GB", "max"),
    ]


@ONE_DATABASE
def test_a_bad_catalog_file_names_the_problem(database: str, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text(json.dumps({"features": [{"feature_key": "Bad Key", "unit": "x"}]}))
    assert in_thread(main, ["features", "load", str(bad)]) == 2
    assert "feature_key" in capsys.readouterr().err


@pytest.mark.anyio
async def test_a_catalog_file_declares_dimensions(database: str, tmp_path: Path, client, capsys) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text('[[features]]\nfeature_key = "llm_tokens"\nunit = "tokens"\ndimensions = ["model", "region"]\n')
    assert in_thread(main, ["features", "load", str(catalog)]) == 0
    listed = (await client.get("/api/v1/billing/features", headers=PLATFORM)).json()
    assert [(f["feature_key"], f["dimensions"]) for f in listed] == [("llm_tokens", ["model", "region"])]

    catalog.write_text('[[features]]\nfeature_key = "llm_tokens"\nunit = "tokens"\ndimensions = ["Model"]\n')
    assert in_thread(main, ["features", "load", str(catalog)]) == 2
    assert "dimensions" in capsys.readouterr().err


CATALOG_WITH_PLANS = """
[[features]]
feature_key = "api_calls"
unit = "requests"

[[plans]]
plan_key = "pro"
name = "Pro"
limits = [{feature_key = "api_calls", limit = 1000, period = "day", enforcement = "reject", notify_at_percent = [80]}]
"""


@pytest.mark.anyio
async def test_a_catalog_file_loads_plans_with_the_features(database: str, tmp_path: Path, client, capsys) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(CATALOG_WITH_PLANS)
    assert in_thread(main, ["features", "load", str(catalog)]) == 0
    assert capsys.readouterr().out.splitlines() == ["created api_calls (requests, sum)", "created plan pro (1 limits)"]
    plans = (await client.get("/api/v1/billing/plans", headers=PLATFORM)).json()
    assert plans == [
        {
            "plan_key": "pro",
            "name": "Pro",
            "limits": [
                {
                    "feature_key": "api_calls",
                    "limit": 1000,
                    "period": "day",
                    "enforcement": "reject",
                    "notify_at_percent": [80],
                    "notify_credits_below": None,
                }
            ],
            "grace_period": None,
        }
    ]
    assert in_thread(main, ["features", "load", str(catalog)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "updated plan pro (1 limits)"

    catalog.write_text(CATALOG_WITH_PLANS.replace('feature_key = "api_calls", limit', 'feature_key = "nope", limit'))
    assert in_thread(main, ["features", "load", str(catalog)]) == 2
    assert "limits[0].feature_key" in capsys.readouterr().err
