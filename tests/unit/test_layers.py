"""What the import contracts (lint-imports) cannot say, checked on the source: SQL only in the database layer, and
only the dialects (with the URLs and column types) know which database they talk to."""

from __future__ import annotations

import re
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service" / "tally"
DB = SERVICE / "db"
MIGRATIONS = DB / "migrations"
DIALECTS = DB / "dialects"
KNOW_THE_DATABASE = (DIALECTS, DB / "urls.py", DB / "types.py")

# Session calls, and SQLAlchemy's statement constructors called as functions (not dict.update() and the like).
SQL = re.compile(r"\.execute\(|\.scalars?\(|exec_driver_sql|(?<![.\w])(text|select|insert|update|delete)\(")
# A branch on the dialect's name, or a database named in a literal; naming the dialect (a log line) is no branch.
DIALECT_TEST = re.compile(
    r"dialect\.name\s*(?:[=!]=|(?:not\s+)?in\b)|match\s+\S*dialect\.name|[\"']postgresql[\"']|[\"']sqlite[\"']|\bpostgres\b"
)


def sources(*outside: Path) -> list[Path]:
    return [path for path in SERVICE.rglob("*.py") if not any(o in path.parents or path == o for o in outside)]


def offending(pattern: re.Pattern[str], paths: list[Path]) -> list[str]:
    return [
        f"{path.relative_to(SERVICE)}:{number}: {line.strip()}"
        for path in paths
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line.split("#", 1)[0])
    ]


def test_sql_only_in_the_database_layer() -> None:
    assert offending(SQL, sources(DB)) == []


def test_only_the_dialects_module_asks_which_database() -> None:
    assert offending(DIALECT_TEST, sources(*KNOW_THE_DATABASE, MIGRATIONS)) == []


def test_the_checks_find_what_they_look_for() -> None:
    # The patterns are not vacuous: they find the statements and dialect tests where they are allowed.
    assert offending(SQL, [DB / "repositories" / "totals.py"])
    assert offending(DIALECT_TEST, [DIALECTS / "__init__.py", DB / "urls.py"])
    branches = ["if session.bind.dialect.name == 'x':", "match engine.dialect.name:", "if dialect.name in KINDS:"]
    assert all(DIALECT_TEST.search(line) for line in branches)
    assert not DIALECT_TEST.search('extra={"database": dialect.name}')
