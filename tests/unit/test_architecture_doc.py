"""docs/architecture.md names only what exists: every file and folder it names, and every module, class, function
or other name it quotes, is found in the code (a renamed or removed one fails here, not in a reader's hands)."""

from __future__ import annotations

import io
import os
import re
import tokenize
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "service" / "tally"
DOC = ROOT / "docs" / "architecture.md"
NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
PATH = re.compile(r"[\w./-]+(?:\.(?:py|txt|toml|md|json|yml)|/)")
SETTING = re.compile(r"TALLY_([A-Z_]+)")


@cache
def names_in_code() -> frozenset[str]:
    """Every name the service's source mentions: identifiers, and the words of its strings (table names, keys)."""
    found: set[str] = set()
    for path in SERVICE.rglob("*.py"):
        for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
            if token.type == tokenize.NAME:
                found.add(token.string)
            elif token.type == tokenize.STRING:
                found.update(re.findall(r"[A-Za-z_]\w*", token.string))
    return frozenset(found)


@cache
def project_paths() -> frozenset[str]:
    """Every file and folder of the project, relative to the root, with a slash before each: hidden folders (.git,
    .venv) and node_modules left out, which held nearly all of the 150,000 folders a glob of ``**`` walked here."""
    found: set[str] = set()
    for folder, folders, files in os.walk(ROOT):
        folders[:] = [f for f in folders if not f.startswith(".") and f not in ("node_modules", "__pycache__")]
        relative = Path(folder).relative_to(ROOT)
        found.update(f"/{relative / name}" for name in [*folders, *files])
    return frozenset(found)


def path_exists(text: str) -> bool:
    relative = text.rstrip("/")
    if (SERVICE / relative).exists() or (ROOT / relative).exists():
        return True
    # A file named by itself: a migration, a test module.
    return any(path.endswith(f"/{relative}") for path in project_paths())


def missing(quoted: list[str]) -> list[str]:
    problems = []
    for text in quoted:
        if setting := SETTING.fullmatch(text):  # a setting: a field of tally.config.Settings
            if setting.group(1).lower() not in names_in_code():
                problems.append(text)
            continue
        path, _, name = text.rpartition(".") if "/" in text and not PATH.fullmatch(text) else ("", "", text)
        if path and not path_exists(f"{path}.py"):
            problems.append(text)
        elif not path and PATH.fullmatch(text):
            if not path_exists(text):
                problems.append(text)
        elif NAME.fullmatch(name) and not set(name.split(".")) <= names_in_code():
            problems.append(text)
    return problems


def quoted_in(markdown: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", markdown)


def test_every_name_in_the_architecture_doc_exists() -> None:
    assert missing(quoted_in(DOC.read_text())) == []


def test_the_check_finds_what_does_not_exist() -> None:
    stale = "`provide_totals_query` in `usage/service.py`, `UsageService.totals`, `metering/limits.over_the_top`"
    stale += ", `TALLY_TOTALS_SOURCES`"
    assert missing(quoted_in(stale)) == [
        "provide_totals_query",
        "usage/service.py",
        "UsageService.totals",
        "metering/limits.over_the_top",
        "TALLY_TOTALS_SOURCES",
    ]
    fine = "`TotalsQuery.build` in `metering/totals.py`, `metering/limits.first_over`, `usage_bucket`, `db/`, "
    fine += "`TALLY_TOTALS_SOURCE`, `constraints.txt`"
    assert missing(quoted_in(fine)) == []
