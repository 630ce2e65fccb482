"""Facts the docs state agree with the code, so that they cannot go stale unnoticed: the migration revision
docs/operations.md quotes is the migrations' head, docs/api.md's route table lists every route of the API,
README.md documents every option of ``tally token`` and every webhook setting."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from tally.cli import _parser
from tally.config import Settings
from tally.db.migrate import head_revision

ROOT = Path(__file__).resolve().parents[2]
API_PREFIX = "/api/v1/billing"


def test_operations_quotes_the_revision_the_migrations_end_at() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    quoted = re.findall(r"needs revision (\w+)", text)
    assert quoted, "docs/operations.md no longer quotes the not-migrated message"
    assert set(quoted) == {head_revision()}


def route_table() -> list[str]:
    """The first cells of the route table at the top of docs/api.md, with ``x[/y]`` written out as ``x x/y``."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = text.split("| route | does | roles |", 1)[1].split("\n\n", 1)[0]
    cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    return [re.sub(r"(/\S+?)\[(/\S+?)\]", r"\1 \1\2", cell) for cell in cells]


def test_the_api_route_table_lists_every_route() -> None:
    spec = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    cells = route_table()
    missing = []
    for path, operations in spec["paths"].items():
        if not path.startswith(API_PREFIX):
            continue
        short = path.removeprefix(API_PREFIX)
        ends = re.compile(re.escape(short) + r"(?=[` ,]|$)")
        for method in operations:
            if not any(ends.search(cell) and f"`{method.upper()}" in cell for cell in cells):
                missing.append(f"{method.upper()} {short}")
    assert missing == []


def test_the_readme_documents_every_option_of_tally_token() -> None:
    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    token = commands.choices["token"]
    options = {o for action in token._actions for o in action.option_strings if o.startswith("--") and o != "--help"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tokens_section = readme.split("\n### Tokens\n", 1)[1].split("\n## ", 1)[0]
    assert {o for o in options if o not in tokens_section} == set()


def test_the_readme_lists_every_webhook_setting() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    settings = {f"TALLY_{name.upper()}" for name in Settings.__struct_fields__ if name.startswith("webhook_")}
    assert settings
    assert {s for s in settings if f"| `{s}` |" not in readme} == set()
