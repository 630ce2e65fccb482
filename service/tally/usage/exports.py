"""CSV exports of totals and events, without I/O: the columns, one row per struct, and the text a page of rows
becomes.

The stdlib ``csv`` module writes the rows: its default ``excel`` dialect is RFC 4180 (fields with a comma,
quote or line break are quoted, quotes doubled, lines end in CRLF). Cells are the JSON answer's values as text
(datetimes as in JSON, ``true``/``false``, an empty cell for null). What is hand-rolled is the defence against
spreadsheet formula injection: a text cell that starts with ``= + - @``, a tab or a carriage return would be
run as a formula by Excel, LibreOffice or Google Sheets, so it gets a leading ``'`` (OWASP's advice), which
the spreadsheet shows as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from typing import Any

import msgspec

from tally.domain.usage import UsageEvent, UsageTotal

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

TOTAL_COLUMNS = ("feature_key", "unit", "quantity", "window_start", "window_end", "approximate", "final")
EVENT_COLUMNS: tuple[str, ...] = UsageEvent.__struct_fields__


def cell(value: Any) -> str:
    """One value as CSV text: null empty, booleans as in JSON, a dict as its JSON text, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = msgspec.json.encode(value).decode() if isinstance(value, dict) else str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def totals_header(group_by: Sequence[str]) -> list[str]:
    """The totals' columns: a ``dimensions.<key>`` column per ``group_by`` key, in its order, after the others
    (prefixed, as a dimension may be called ``unit``)."""
    return [*TOTAL_COLUMNS, *(f"dimensions.{key}" for key in group_by)]


def total_row(total: UsageTotal, group_by: Sequence[str]) -> list[str]:
    values = msgspec.to_builtins(total)  # datetimes as the JSON answer writes them
    return [cell(values[name]) for name in TOTAL_COLUMNS] + [cell(total.dimensions.get(key)) for key in group_by]


def event_row(event: UsageEvent) -> list[str]:
    values = msgspec.to_builtins(event)
    return [cell(values[name]) for name in EVENT_COLUMNS]


def lines(rows: Iterable[Sequence[str]]) -> bytes:
    """``rows`` as RFC 4180 lines, UTF-8."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


async def totals_csv(totals: Sequence[UsageTotal], group_by: Sequence[str]) -> AsyncIterator[bytes]:
    """The header, then the totals (at most 10,000 rows, already in memory) a thousand rows per chunk."""
    yield lines([totals_header(group_by)])
    for start in range(0, len(totals), 1000):
        yield lines(total_row(t, group_by) for t in totals[start : start + 1000])


async def events_csv(pages: AsyncIterable[Sequence[UsageEvent]]) -> AsyncIterator[bytes]:
    """The header, then one chunk per page of events: only one page is in memory at a time."""
    yield lines([list(EVENT_COLUMNS)])
    async for page in pages:
        yield lines(event_row(e) for e in page)
