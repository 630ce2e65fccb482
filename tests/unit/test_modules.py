"""Every module of the service is one thing, and says so: its first line is a docstring saying what it is, and it
stays under 400 lines (a longer one is several things, and is split)."""

from __future__ import annotations

from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service" / "tally"
MAX_LINES = 400


def test_each_module_says_in_its_first_line_what_it_is() -> None:
    silent = [str(p.relative_to(SERVICE)) for p in SERVICE.rglob("*.py") if not p.read_text().startswith('"""')]
    assert silent == []


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(SERVICE)): n
        for p in SERVICE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
