"""``tally usage export``: a period's totals, or every event, as a CSV file, with progress on a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tally.cli.base import CommandError, schema_problem_of, with_engine
from tally.config import Settings
from tally.db.repositories import TenantPlanRepository
from tally.metering.events import EventQuery
from tally.metering.periods import day_start, zone
from tally.metering.totals import TotalsQuery
from tally.usage import exports
from tally.usage.reading import reader

T = TypeVar("T")


class _CsvFile:
    """The export's file, written as ``FILE.part`` and renamed to ``FILE`` once complete, so a failed export leaves
    no half-written file behind. Its failures are one line naming the file (not the database's message)."""

    def __init__(self, path: Path) -> None:
        self.path, self.part = path, path.with_name(f"{path.name}.part")

    def _io(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except OSError as exc:
            raise CommandError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    async def write(self, chunks: AsyncIterator[bytes]) -> None:
        file = self._io(lambda: self.part.open("wb"))
        try:
            async for chunk in chunks:
                self._io(lambda: file.write(chunk))  # noqa: B023 (called at once)
            self._io(file.close)
            self._io(lambda: os.replace(self.part, self.path))
        finally:
            file.close()
            self.part.unlink(missing_ok=True)


class _Progress:
    """A bar on stderr, only when stderr is a terminal (a pipe or a log file gets nothing): how far through the
    period the export is, as events come oldest first. Hand-rolled: one line of output needs no dependency."""

    WIDTH = 30

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start, self.span = start, (end - start).total_seconds()
        self.shown = sys.stderr.isatty()
        self.rows = 0

    async def follow(self, pages: AsyncIterator[Sequence[Any]]) -> AsyncIterator[Sequence[Any]]:
        async for page in pages:
            yield page
            self.rows += len(page)
            self._draw((page[-1].timestamp - self.start).total_seconds() / self.span)
        self._draw(1.0)
        if self.shown:
            print(file=sys.stderr)

    def _draw(self, done: float) -> None:
        if self.shown:
            done = min(max(done, 0.0), 1.0)
            bar = "#" * round(done * self.WIDTH)
            print(f"\r[{bar:.<{self.WIDTH}}] {done:4.0%} {self.rows:,} events", end="", file=sys.stderr, flush=True)


def usage_export(args: argparse.Namespace) -> int:
    settings = Settings.from_env(require_secret=False)
    output = _CsvFile(args.file)

    async def export(engine: AsyncEngine) -> tuple[int, str]:
        if problem := await schema_problem_of(engine):
            raise CommandError(problem)
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            # A bare date is local midnight in the tenant's time zone (its plan's; UTC without one), the zone its
            # billing months and limits follow: unambiguous, where a zone-less time of day would be a guess.
            assignment = await TenantPlanRepository(session=session).assignment(args.tenant)
            tz_name = assignment.timezone if assignment else "UTC"
            tz = zone(tz_name)
            # The totals' query checks the period (either order of the bounds is a one-line error).
            query = TotalsQuery.build(
                now=datetime.now(UTC),
                period_start=_at(args.period_start, tz),
                period_end=_at(args.period_end, tz),
            )
            (start, end) = query.windows[0]
            usage = reader(session, settings)  # as the API reads: TALLY_TOTALS_SOURCE applies
            shown = f"[{_text(start, tz)}, {_text(end, tz)}) ({tz_name})"
            if args.events:
                progress = _Progress(start, end)
                pages = await usage.export_events(
                    args.tenant, EventQuery(start=start, end=end), settings.export_page_size
                )
                await output.write(exports.events_csv(progress.follow(pages)))
                return progress.rows, shown
            totals = await usage.totals(args.tenant, query)
            await output.write(exports.totals_csv(totals, ()))
            return len(totals), shown

    rows, period = with_engine(settings, export)
    noun = ("event" if args.events else "total") + ("" if rows == 1 else "s")
    print(f"wrote {rows:,} {noun} of {period} to {args.file}")
    return 0


def _text(instant: datetime, tz: tzinfo) -> str:
    """An instant in the tenant's zone, as RFC 3339 (``Z`` for UTC)."""
    return instant.astimezone(tz).isoformat().replace("+00:00", "Z")


def _at(when: datetime | date, tz: tzinfo) -> datetime:
    return when if isinstance(when, datetime) else day_start(when, tz)
