"""Period use cases: close a tenant's periods with their totals and a ``period.closed`` message, list its periods.

A close takes the tenant's period lock exclusively (writers take it shared), so it reads totals no batch or void of
the tenant is changing, and two processes closing the same period record it once: the second finds it recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.models import BillingPeriodRecord
from tally.db.repositories import PeriodRepository
from tally.db.transaction import Transaction
from tally.domain.errors import InvalidInput
from tally.domain.periods import BillingPeriod, BillingPeriodPage, PeriodClosedData, PeriodState
from tally.domain.usage import UsageTotal
from tally.http.cursors import decode_cursor, encode_cursor
from tally.metering.billing import PeriodTerms, months, months_back
from tally.metering.periods import month_start, next_month_start, rfc3339
from tally.metering.totals import TotalsQuery, TotalsSource
from tally.usage.reading import UsageReader
from tally.webhooks.outbox import record_period_closed

_TOTALS = msgspec.json.Decoder(list[UsageTotal])
JUST_BEFORE = timedelta(microseconds=1)
EARLIEST = datetime(1, 3, 1, tzinfo=UTC)  # a month and a zone's offset after the first instant a datetime holds
MAX_RECORDED = 120  # periods one close records (ten years); older ones are closed without a recorded row


class PeriodService:
    def __init__(self, session: AsyncSession, totals_source: TotalsSource = "buckets") -> None:
        self.session = session
        self.totals_source = totals_source
        self.transaction = Transaction(session)
        self.periods = PeriodRepository(session)

    @cached_property
    def reader(self) -> UsageReader:
        return UsageReader(self.session, self.totals_source)

    async def close(self, tenant_id: UUID, period_end: datetime, now: datetime) -> list[BillingPeriod]:
        """Close every period of the tenant ending at or before ``period_end`` (not in the future, else a 400) and
        commit; returns the periods this call closed, oldest first (none when they were closed already)."""
        if period_end > now:
            raise InvalidInput.field(
                "period_end", f"{rfc3339(period_end)} is in the future: only periods that have ended can close"
            )
        if period_end < EARLIEST:
            raise InvalidInput.field("period_end", f"{rfc3339(period_end)} ends no period Tally can hold")
        return await self._close(tenant_id, period_end, now)

    async def close_due(self, tenant_id: UUID, now: datetime) -> int:
        """Record the periods whose grace has passed and that are not recorded yet (the background close); how
        many it recorded. Reads unlocked first, so a tenant with nothing to do costs one statement."""
        terms = await self.periods.terms(tenant_id)
        due = terms.graced_through(now)
        if due is None or (terms.recorded_through is not None and terms.recorded_through >= due):
            return 0
        if terms.recorded_through is None:
            first = await self.periods.first_usage(tenant_id)
            if first is None or first >= due:
                return 0
        await self.transaction.rollback()  # ends the reads' transaction (SQLite) before the write's
        return len(await self._close(tenant_id, due, now))

    async def _close(self, tenant_id: UUID, period_end: datetime, now: datetime) -> list[BillingPeriod]:
        await self.transaction.begin_write()
        await self.transaction.lock_periods(tenant_id, exclusive=True)
        terms = await self.periods.terms(tenant_id)
        through = month_start(period_end, terms.tz)  # the last period ending at or before period_end
        first = terms.recorded_through  # the next period starts where the last recorded one ended
        if first is None:
            usage = await self.periods.first_usage(tenant_id)
            earliest = max(usage, EARLIEST) if usage is not None and usage < through else through - JUST_BEFORE
            first = month_start(earliest, terms.tz)
        closed = []
        for start, end in list(months(first, through, terms.tz))[-MAX_RECORDED:]:
            totals = await self.reader.totals(tenant_id, TotalsQuery(None, ((start, end),)))
            at = terms.closing_instant(end, now)
            final = [msgspec.structs.replace(t, final=True) for t in totals]
            closed.append(
                PeriodClosedData(tenant_id=tenant_id, period_start=start, period_end=end, closed_at=at, totals=final)
            )
        await self.periods.add(
            [
                BillingPeriodRecord(
                    tenant_id=tenant_id,
                    period_start=c.period_start,
                    period_end=c.period_end,
                    closed_at=c.closed_at,
                    totals=msgspec.json.encode(c.totals).decode(),
                )
                for c in closed
            ]
        )
        await record_period_closed(self.session, closed, now)
        await self.transaction.commit()
        return [_closed_period(c.period_start, c.period_end, terms, c.closed_at, c.totals) for c in closed]

    async def list_periods(self, tenant_id: UUID, cursor: str | None, limit: int, now: datetime) -> BillingPeriodPage:
        """The tenant's periods, newest first from the current one back to the month of its first usage (or first
        recorded close), ``limit`` at a time."""
        terms = await self.periods.terms(tenant_id)
        before = decode_cursor(cursor)[0] if cursor is not None else next_month_start(now, terms.tz)
        if before < EARLIEST:
            raise InvalidInput.field("cursor", "is not a cursor this API returned")
        starts = [
            t for t in (await self.periods.first_usage(tenant_id), await self.periods.first_recorded(tenant_id)) if t
        ]
        earliest = month_start(max(min([*starts, now]), EARLIEST), terms.tz)
        spans = months_back(before, terms.tz, limit + 1, earliest)
        more = len(spans) > limit
        spans = spans[:limit]
        if not spans:
            return BillingPeriodPage(items=[], next_cursor=None)
        recorded = {r.period_start: r for r in await self.periods.closed(tenant_id, spans[-1][0], spans[0][1])}
        items = []
        for start, end in spans:
            record, state = recorded.get(start), terms.state(start, end, now)
            if record is not None:
                items.append(_closed_period(start, end, terms, record.closed_at, _TOTALS.decode(record.totals)))
            elif state is PeriodState.CLOSED:
                # Not recorded: its grace has passed and the background close has not recorded it yet, or it is
                # older than the periods one close records (closed by the next recorded one). Its totals cannot change.
                later = await self.periods.next_recorded(tenant_id, end)
                closed_at = terms.closing_instant(end, now)
                closed_at = min(closed_at, later.closed_at) if later is not None else closed_at
                totals = await self.reader.totals(tenant_id, TotalsQuery(None, ((start, end),)))
                items.append(_closed_period(start, end, terms, closed_at, totals))
            else:
                items.append(
                    BillingPeriod(
                        period_start=start,
                        period_end=end,
                        state=state,
                        grace_ends_at=terms.grace_ends_at(end),
                        closed_at=None,
                    )
                )
        return BillingPeriodPage(items=items, next_cursor=encode_cursor(spans[-1][0], "") if more else None)


def _closed_period(
    start: datetime, end: datetime, terms: PeriodTerms, closed_at: datetime, totals: list[UsageTotal]
) -> BillingPeriod:
    return BillingPeriod(
        period_start=start,
        period_end=end,
        state=PeriodState.CLOSED,
        grace_ends_at=terms.grace_ends_at(end),
        closed_at=closed_at,
        totals=[msgspec.structs.replace(t, final=True) for t in totals],
    )
