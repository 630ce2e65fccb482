"""Closed billing periods' gate: an event dated inside one, or a void of one, is refused (409 ``period-closed``).

Re-sending an event recorded before the close stays a duplicate, never an error. The caller holds the tenant's
period lock (shared), so either a close sees the batch's events or the batch sees the close.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from tally.db.repositories import PeriodRepository, UsageEventRepository
from tally.domain.errors import PeriodClosed
from tally.domain.problems import FieldError
from tally.metering.billing import period_label
from tally.metering.events import NewEvent
from tally.metering.periods import month_start, next_month_start, rfc3339


async def late_events(
    periods: PeriodRepository, stored: UsageEventRepository, tenant_id: UUID, events: Sequence[NewEvent], now: datetime
) -> PeriodClosed | None:
    """The refusal of a batch with an event dated inside a closed period that is not a duplicate, else None."""
    terms = await periods.terms(tenant_id)
    through = terms.closed_through(now)
    late = [e for e in events if through is not None and e.timestamp < through]
    if not late:
        return None
    known = await stored.stored_content(tenant_id, [e.idempotency_key for e in late])
    refused = [
        FieldError(
            field=f"events[{e.index}]",
            message=f"{rfc3339(e.timestamp)} lies in the closed billing period "
            f"{period_label(month_start(e.timestamp, terms.tz), next_month_start(e.timestamp, terms.tz))}: "
            "its totals are final",
        )
        for e in late
        if e.idempotency_key not in known or not e.same_content(*known[e.idempotency_key])
    ]
    return PeriodClosed.fields(refused) if refused else None


async def closed_void(
    periods: PeriodRepository, tenant_id: UUID, timestamp: datetime, now: datetime
) -> PeriodClosed | None:
    """The refusal of a void of an event dated ``timestamp`` inside a closed period, else None."""
    terms = await periods.terms(tenant_id)
    if not terms.closed(timestamp, now):
        return None
    period = period_label(month_start(timestamp, terms.tz), next_month_start(timestamp, terms.tz))
    return PeriodClosed.field(
        "idempotency_key", f"the event is dated {rfc3339(timestamp)}, in the closed billing period {period}"
    )
