"""The breaking-change check (`nox -s breaking`): openapi.json against the spec of the last release.

The base is openapi.json at the newest release tag (vX.Y.Z) reachable from HEAD or, with no such tag (a fresh clone
has none), at the first commit whose openapi.json carries the newest version CHANGELOG.md dates as released (a
"## [X.Y.Z] - date" heading) below the checked spec's version: the release before this one; failing that, the first
commit that has an openapi.json.
Optic (@useoptic/optic, pinned in scripts/breaking/) finds the breaking changes: a removed operation, response field
or status, a request enum value removed, a type changed, a parameter or request field made required, and also a
value added to a response enum (an older client that refuses unknown values breaks: the generated Python client
does). Additive changes pass. A breaking change passes only when info.version's major number went up since the base
and CHANGELOG.md, in a section newer than the base's version, names each changed operation ("GET /api/v1/...").

python scripts/breaking.py [--spec PATH] [--base-ref REF]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "scripts" / "breaking"
RELEASE_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
OPERATION = re.compile(r"^[x✔] (GET|PUT|POST|PATCH|DELETE|HEAD|OPTIONS) (\S+?):")
FINDING = re.compile(r"^\s*x \[(.+?)\] (.+)$")
SECTION = re.compile(r"^## \[?(\d+)\.(\d+)\.(\d+)\]?", re.MULTILINE)
RELEASED = re.compile(r"^## \[?(\d+)\.(\d+)\.(\d+)\]? - \d{4}-\d{2}-\d{2}", re.MULTILINE)


@dataclass(frozen=True)
class Change:
    """One breaking change as Optic reports it."""

    operation: str  # "GET /api/v1/billing/plans"
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.operation}: {self.message} [{self.rule}]"


def git(*args: str, root: Path = ROOT) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def base_ref(root: Path = ROOT, current: tuple[int, int, int] | None = None) -> str | None:
    """The newest release tag reachable from HEAD, else the commit that released the newest version CHANGELOG.md
    dates before ``current`` (the checked spec's version), else the first commit with an openapi.json; None without
    any (not a git checkout, or no spec in its history)."""
    tags = [t for t in git("tag", "--merged", "HEAD", "--list", "v*", root=root).splitlines() if RELEASE_TAG.match(t)]
    if tags:
        return max(tags, key=lambda t: tuple(int(n) for n in RELEASE_TAG.match(t).groups()))  # type: ignore[union-attr]
    return released_at(root, current) or next(
        iter(git("rev-list", "--reverse", "HEAD", "--", "openapi.json", root=root).split()), None
    )


def released_at(root: Path, current: tuple[int, int, int] | None = None) -> str | None:
    """The first commit whose openapi.json's info.version is the newest version that CHANGELOG.md (at HEAD) dates as
    released, before ``current``: a release is checked against the one before it, its own changes named in its own
    section. Tags do not always travel with a clone; the changelog and the history do."""
    changelog = git("show", "HEAD:CHANGELOG.md", root=root)
    dated = [tuple(int(n) for n in m.groups()) for m in RELEASED.finditer(changelog)]
    dated = [v for v in dated if current is None or v < current]
    if not dated:
        return None
    newest = ".".join(map(str, max(dated)))
    # git's pickaxe narrows the history to the commits that changed how often the version's text occurs.
    candidates = git("log", "--reverse", "--format=%H", "-S", f'"{newest}"', "HEAD", "--", "openapi.json", root=root)
    for commit in candidates.split():
        spec = git("show", f"{commit}:openapi.json", root=root)
        info = json.loads(spec).get("info", {}) if spec else {}
        if isinstance(info, dict) and info.get("version") == newest:
            return commit
    return None


def version(spec: dict[str, object]) -> tuple[int, int, int]:
    info = spec.get("info")
    text = str(info.get("version", "")) if isinstance(info, dict) else ""
    numbers = re.match(r"^(\d+)\.(\d+)\.(\d+)", text)
    if not numbers:
        raise SystemExit(f"breaking: info.version {text!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = (int(n) for n in numbers.groups())
    return major, minor, patch


def breaking_changes(base: Path, current: Path) -> list[Change]:
    """Optic's breaking changes from ``base`` to ``current`` (both OpenAPI files)."""
    subprocess.run([str(ROOT / "scripts" / "node-packages"), str(TOOL)], check=True)
    command = [
        str(TOOL / "node_modules" / ".bin" / "optic"),
        "diff",
        str(base),
        str(current),
        "--check",
        "--standard",
        str(TOOL / "optic.dev.yml"),
        # Optic's strict validation refuses an OpenAPI 3.1 link whose requestBody is an object, which 3.1 allows.
        "--validation",
        "loose",
    ]
    env = {**os.environ, "OPTIC_TELEMETRY_LEVEL": "off", "NO_COLOR": "1", "FORCE_COLOR": "0"}
    result = subprocess.run(command, cwd=TOOL, env=env, capture_output=True, text=True, check=False)
    changes, operation = [], "(whole document)"
    for line in result.stdout.splitlines():
        if found := OPERATION.match(line):
            operation = f"{found[1]} {found[2]}"
        elif (found := FINDING.match(line)) and "breaking change" in found[2]:
            changes.append(Change(operation, found[1], found[2]))
    if result.returncode != 0 and not changes:
        raise SystemExit(f"breaking: optic failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return changes


def changelog_since(changelog: str, base: tuple[int, int, int], current: tuple[int, int, int]) -> str:
    """The text of CHANGELOG.md's sections for versions after ``base`` up to ``current``."""
    starts = list(SECTION.finditer(changelog))
    text = []
    for i, heading in enumerate(starts):
        section_version = tuple(int(n) for n in heading.groups())
        if base < section_version <= current:
            end = starts[i + 1].start() if i + 1 < len(starts) else len(changelog)
            text.append(changelog[heading.start() : end])
    return "\n".join(text)


def verdict(
    changes: list[Change], base: tuple[int, int, int], current: tuple[int, int, int], changelog: str
) -> list[str]:
    """Why the changes may not go out as they are; empty when they may."""
    if not changes:
        return []
    if current[0] <= base[0]:
        return [
            f"{len(changes)} breaking change(s) without a major version bump (openapi.json's info.version "
            f"{'.'.join(map(str, current))}, the base's {'.'.join(map(str, base))}): make them additive, or bump "
            "the major version (tally.__version__, then `nox -s client`) and name each in CHANGELOG.md",
            *map(str, changes),
        ]
    named = changelog_since(changelog, base, current)
    unnamed = [change for change in changes if change.operation not in named]
    if unnamed:
        return [
            "the major version went up, but CHANGELOG.md does not name these changed operations in a section "
            f"after {'.'.join(map(str, base))}",
            *map(str, unnamed),
        ]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=ROOT / "openapi.json", help="the spec to check")
    parser.add_argument("--base-ref", help="compare with openapi.json at this git ref instead")
    parser.add_argument("--changelog", type=Path, default=ROOT / "CHANGELOG.md")
    args = parser.parse_args()
    current_spec = json.loads(args.spec.read_text(encoding="utf-8"))
    ref = args.base_ref or base_ref(current=version(current_spec))
    base_text = git("show", f"{ref}:openapi.json") if ref else ""
    if not base_text:
        print(
            "breaking: no earlier openapi.json in this checkout's history (no release tag, no commit with one): "
            "nothing to compare"
        )
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base-openapi.json"
        base.write_text(base_text, encoding="utf-8")
        changes = breaking_changes(base, args.spec.absolute())
    changelog = args.changelog.read_text(encoding="utf-8") if args.changelog.is_file() else ""
    problems = verdict(changes, version(json.loads(base_text)), version(current_spec), changelog)
    label = git("describe", "--tags", "--always", ref) or ref
    for problem in problems:
        print(f"breaking: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"breaking: none against {label}"
        if not changes
        else f"breaking: {len(changes)} change(s) against "
        f"{label}, released as a new major version and named in CHANGELOG.md"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
