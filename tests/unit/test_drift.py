"""The drift check itself: it passes on the committed tree and fails on a tampered spec or client."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_contract():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("contract", ROOT / "scripts" / "contract.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


contract = _load_contract()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the committed openapi.json and client/."""
    shutil.copy(ROOT / "openapi.json", tmp_path / "openapi.json")
    shutil.copytree(
        ROOT / "client", tmp_path / "client", ignore=shutil.ignore_patterns(*contract.IGNORED, "*.egg-info")
    )
    return tmp_path


def test_committed_tree_has_no_drift(tree: Path) -> None:
    assert contract.check_drift(tree) == []


def test_export_is_deterministic() -> None:
    assert contract.render_spec() == contract.render_spec()
    assert contract.render_spec() == (ROOT / "openapi.json").read_text(encoding="utf-8")


def test_tampered_spec_is_drift(tree: Path) -> None:
    spec = json.loads((tree / "openapi.json").read_text())
    spec["paths"]["/api/v1/billing/tenants/{tenant_id}/usage-totals"]["get"]["summary"] = "edited by hand"
    (tree / "openapi.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    problems = contract.check_drift(tree)
    assert any(p.startswith("openapi.json differs") for p in problems)
    # The client was generated from the untampered spec, so it no longer matches the tampered one either.
    assert any("client/" in p for p in problems)


def test_tampered_client_file_is_drift(tree: Path) -> None:
    module = tree / "client" / "tally_client" / "api" / "usage" / "get_usage_totals.py"
    module.write_text(module.read_text() + "\n# edited by hand\n")
    problems = contract.check_drift(tree)
    assert problems == [
        "client/tally_client/api/usage/get_usage_totals.py (differs): "
        "regenerating from openapi.json gives another result"
    ]


def test_extra_client_file_is_drift(tree: Path) -> None:
    (tree / "client" / "tally_client" / "handwritten.py").write_text("x = 1\n")
    assert contract.check_drift(tree) == [
        "client/tally_client/handwritten.py (not generated): regenerating from openapi.json gives another result"
    ]
