"""The settings tables of docs/operations.md and README.md agree with ``tally.config.Settings``: the same
variables (all of them in operations.md), with the defaults the code really has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

from tally.config import Settings

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `TALLY_([A-Z_]+)` \| ([^|]+) \|", re.MULTILINE)


def documented(path: Path, section: str) -> dict[str, str]:
    """``field -> default cell`` of the ``TALLY_*`` rows in the table under the heading ``section``."""
    text = path.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return {name.lower(): cell.strip() for name, cell in ROW.findall(body)}


def parsed_default(field: str, cell: str) -> Any:
    """The documented default as the code would read it from the environment."""
    if cell.startswith("none"):
        return None
    return getattr(msgspec.convert({field: cell.strip("`")}, Settings, strict=False), field)


def code_defaults() -> dict[str, Any]:
    return msgspec.structs.asdict(Settings())


def test_operations_lists_every_setting_with_its_default() -> None:
    rows = documented(ROOT / "docs" / "operations.md", "Settings")
    assert set(rows) == set(Settings.__struct_fields__)
    assert {field: parsed_default(field, cell) for field, cell in rows.items()} == code_defaults()


def test_readme_settings_exist_with_their_defaults() -> None:
    rows = documented(ROOT / "README.md", "Configuration")
    assert set(rows) <= set(Settings.__struct_fields__), set(rows) - set(Settings.__struct_fields__)
    defaults = code_defaults()
    assert {field: parsed_default(field, cell) for field, cell in rows.items()} == {f: defaults[f] for f in rows}
