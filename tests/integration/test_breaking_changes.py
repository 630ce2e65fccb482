"""The breaking-change check (scripts/breaking.py, `nox -s breaking`) with the real differ: it fails on a deliberate
break without a major bump and names the change, passes an additive change, lets a break through only with a major
bump and a CHANGELOG entry naming it, and finds its base with or without release tags."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))


def _load_breaking():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("breaking", ROOT / "scripts" / "breaking.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["breaking"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


breaking = _load_breaking()


def check(tmp_path: Path, spec: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """`scripts/breaking.py` on ``spec`` against the committed openapi.json (HEAD's)."""
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    command = [sys.executable, str(ROOT / "scripts" / "breaking.py"), "--spec", str(path), "--base-ref", "HEAD"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.long
def test_a_deliberate_break_fails_and_names_the_change(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    del spec["paths"]["/api/v1/billing/plans"]["get"]
    total = spec["components"]["schemas"]["UsageTotal"]
    del total["properties"]["unit"]
    total["required"].remove("unit")
    result = check(tmp_path, spec)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "without a major version bump" in result.stderr
    assert "GET /api/v1/billing/plans: cannot remove an operation" in result.stderr
    assert "GET /api/v1/billing/tenants/{tenant_id}/usage-totals: cannot remove response property 'unit'" in (
        result.stderr
    )


@pytest.mark.long
def test_an_additive_change_passes(tmp_path: Path) -> None:
    spec = copy.deepcopy(SPEC)
    spec["components"]["schemas"]["UsageTotal"]["properties"]["note"] = {"type": "string"}  # a new optional field
    spec["paths"]["/api/v1/billing/notes"] = {  # a new route
        "get": {"operationId": "list_notes", "responses": {"200": {"description": "The notes."}}}
    }
    result = check(tmp_path, spec)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "breaking: none against" in result.stdout


REMOVED = breaking.Change("GET /api/v1/billing/plans", "prevent operation removal", "cannot remove an operation.")
CHANGELOG = """# Changelog
## [Unreleased]
## [2.0.0] - 2027-01-01
### Breaking
- `GET /api/v1/billing/plans` is gone: plans are read one at a time.
## [1.0.0] - 2026-12-06
- `GET /api/v1/billing/features`: more aggregations.
"""


def test_a_break_passes_only_with_a_major_bump_and_a_changelog_entry_naming_it() -> None:
    assert breaking.verdict([REMOVED], (1, 0, 0), (1, 1, 0), CHANGELOG)[1:] == [str(REMOVED)]  # no major bump
    assert breaking.verdict([REMOVED], (1, 0, 0), (2, 0, 0), CHANGELOG) == []
    unnamed = CHANGELOG.replace("`GET /api/v1/billing/plans` is gone", "a route is gone")
    assert breaking.verdict([REMOVED], (1, 0, 0), (2, 0, 0), unnamed)[1:] == [str(REMOVED)]
    # Named only in a section the base already had: not an entry for this release.
    assert breaking.verdict([REMOVED], (2, 0, 0), (3, 0, 0), CHANGELOG)[1:] == [str(REMOVED)]
    assert breaking.verdict([], (1, 0, 0), (1, 0, 1), "") == []


def git(repo: Path, *args: str) -> str:
    environ = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    environ |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=environ)
    return result.stdout.strip()


def commit(repo: Path, message: str, spec: str | None = None) -> str:
    if spec is not None:
        (repo / "openapi.json").write_text(spec)
    (repo / "notes.txt").write_text(message)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_the_base_is_the_last_release_tag_else_the_first_spec(tmp_path: Path) -> None:
    assert breaking.base_ref(tmp_path) is None  # not a git checkout: nothing to compare
    git(tmp_path, "init", "-q")
    commit(tmp_path, "no spec yet")
    assert breaking.base_ref(tmp_path) is None
    first_spec = commit(tmp_path, "first spec", '{"v": 1}')
    commit(tmp_path, "second spec", '{"v": 2}')
    assert breaking.base_ref(tmp_path) == first_spec  # no tag: main's first spec
    git(tmp_path, "tag", "v1.2.0")
    commit(tmp_path, "third spec", '{"v": 3}')
    git(tmp_path, "tag", "v1.10.0")
    git(tmp_path, "tag", "not-a-release")
    commit(tmp_path, "fourth spec", '{"v": 4}')
    assert breaking.base_ref(tmp_path) == "v1.10.0"  # the newest by version, not by name
    git(tmp_path, "checkout", "-q", "-b", "old", "v1.2.0")
    assert breaking.base_ref(tmp_path) == "v1.2.0"  # only tags HEAD descends from


@pytest.mark.parametrize("text", ["1.0", "one", ""])
def test_a_version_that_is_not_semver_stops_the_check(text: str) -> None:
    with pytest.raises(SystemExit, match=r"MAJOR\.MINOR\.PATCH"):
        breaking.version({"info": {"version": text}})
