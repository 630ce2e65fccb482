"""The CSV text of exports, without I/O: cells as the JSON answer's values, formulas defused, RFC 4180 lines."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from tally.domain.usage import UsageTotal
from tally.usage.exports import cell, lines, total_row, totals_header


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (9_007_199_254_740_991, "9007199254740991"),
        ({}, "{}"),
        ({"model": "gpt-4o"}, '{"model":"gpt-4o"}'),
        ("plain", "plain"),
        ("", ""),
        ("a=b", "a=b"),  # only a leading character starts a formula
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'quoted", "'quoted"),
    ],
)
def test_cells(value: object, text: str) -> None:
    assert cell(value) == text


def test_a_total_row_has_its_grouped_values_last_in_group_by_order() -> None:
    total = UsageTotal(
        feature_key="llm_tokens",
        unit="tokens",
        quantity=5,
        window_start=datetime(2026, 11, 1, tzinfo=UTC),
        window_end=datetime(2026, 12, 1, tzinfo=UTC),
        dimensions={"model": "gpt-4o", "region": None},
    )
    assert totals_header(["region", "model"])[-2:] == ["dimensions.region", "dimensions.model"]
    assert total_row(total, ["region", "model"]) == [
        "llm_tokens",
        "tokens",
        "5",
        "2026-11-01T00:00:00Z",
        "2026-12-01T00:00:00Z",
        "false",
        "false",
        "",
        "gpt-4o",
    ]


def test_lines_are_rfc_4180() -> None:
    rows = [["a", 'say "hi"', "x,y", "two\nlines", "é"]]
    text = lines(rows).decode("utf-8")
    assert text == 'a,"say ""hi""","x,y","two\nlines",é\r\n'
    assert list(csv.reader(io.StringIO(text, newline=""))) == rows
