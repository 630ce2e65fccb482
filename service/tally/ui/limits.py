"""A usage card's limit, worked out without I/O: the period's usage against its limit, in words, and an estimate
that respects enforcement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

import msgspec

from tally.domain.catalog import Aggregation
from tally.domain.plans import Enforcement, Entitlement, LimitPeriod
from tally.ui.periods import Period, amount, day_label, whole_month


class DayValue(msgspec.Struct, frozen=True):
    label: str
    short: str
    quantity: int
    text: str


PROJECTION_AFTER = 0.1
"""Share of a limit's period that must have passed before the page projects its usage (about three days of a
month): a straight line through the first hours says little."""
PROJECTED = frozenset({Aggregation.SUM, Aggregation.COUNT})
"""Aggregations whose value grows with time, so that a straight line through it means something."""


class LimitView(msgspec.Struct, frozen=True):
    """A card's limit beside the period the page shows: for a period going on now, the limit's current period as
    the API's entitlement reports it (what is enforced); for a past period, that period's own usage against it."""

    used: int
    limit: int
    heading: str
    """Which period is compared: "Limit this month", "Limit today", "Limit in November 2026", "Limit per day"."""
    used_text: str | None
    """None when the period shown cannot be compared with the limit (a custom range that is not a month)."""
    limit_text: str
    percent: float | None
    """Width of the bar, 0 to 100; None: no bar."""
    over: bool
    over_text: str
    detail_text: str
    refused_text: str | None = None
    projection_text: str | None = None
    projection_over: bool = False
    note: str | None = None
    """Where the page's zone differs from the tenant's, in which the limit counts its periods."""


class CardLimit(msgspec.Struct, frozen=True):
    """What a card's limit is judged on: the entitlement now, the period the page shows (in ``tz``), the card's
    total over it and its days, and the zone the tenant's periods are counted in."""

    entitlement: Entitlement
    aggregation: Aggregation
    now: datetime
    tz: tzinfo
    period: Period | None = None
    total: int = 0
    days: Sequence[DayValue] = ()
    tenant_zone: str | None = None


def limit_view(entitlement: Entitlement, aggregation: Aggregation, now: datetime, tz: tzinfo) -> LimitView | None:
    """How a card shows ``entitlement`` in its current period (None without a limit): used of limit, remaining,
    the reset (in ``tz``), and what the enforcement does next (see ``_next``)."""
    return card_limit(CardLimit(entitlement, aggregation, now, tz))


def card_limit(card: CardLimit) -> LimitView | None:
    """The limit beside the period a card shows: the current one's (``_current``) while the period is going on,
    that period's own usage in the page's zone once it is over (``_past_month``, ``_past_days``); None without a
    limit or for a period still to come."""
    entitlement, period = card.entitlement, card.period
    if entitlement.limit is None:
        return None
    if period is not None and card.now < period.start:
        return None
    if period is None or card.now < period.end:
        view = _current(card, entitlement.limit)
    elif entitlement.period is LimitPeriod.DAY:
        view = _past_days(card, entitlement.limit, period)
    else:
        view = _past_month(card, entitlement.limit, period)
    zone_name, tenant_zone = str(card.tz), card.tenant_zone
    if tenant_zone is not None and tenant_zone != zone_name:
        counted = "days" if entitlement.period is LimitPeriod.DAY else "months"
        if period is None or card.now < period.end:
            note = (
                f"The limit counts {counted} in the tenant's time zone, {tenant_zone}: these numbers are its current "
                f"period's there, which may differ from this page's {zone_name} ones."
            )
        else:
            note = (
                f"Counted here in {zone_name}; the limit counts {counted} in the tenant's time zone, {tenant_zone}, "
                "so what it enforced may differ a little."
            )
        view = msgspec.structs.replace(view, note=note)
    return view


def _current(card: CardLimit, limit: int) -> LimitView:
    entitlement, unit, tz = card.entitlement, card.entitlement.unit, card.tz
    used, resets = entitlement.used, f"{_when(entitlement.period_end, tz)} ({tz})"
    refused_text, projection_text, projection_over = _next(card, limit, resets)
    return LimitView(
        used=used,
        limit=limit,
        heading="Limit today" if entitlement.period is LimitPeriod.DAY else "Limit this month",
        used_text=f"{used:,}",
        limit_text=amount(limit, unit),
        percent=_percent(used, limit),
        over=entitlement.over_limit,
        over_text="Over the limit",
        detail_text=f"{amount(entitlement.remaining or 0, unit)} left · resets {resets}",
        refused_text=refused_text,
        projection_text=projection_text,
        projection_over=projection_over,
    )


def _next(card: CardLimit, limit: int, resets: str) -> tuple[str | None, str | None, bool]:
    """What a current period's usage is heading for: ``(refused, estimate, estimate_over)``. A rejecting limit that
    is reached refuses further usage until the reset, and is never estimated beyond itself; otherwise, for a growing
    aggregation once PROJECTION_AFTER of the period has passed, a straight-line estimate of the period's end."""
    entitlement, unit = card.entitlement, card.entitlement.unit
    used, start, end = entitlement.used, entitlement.period_start, entitlement.period_end
    rejects = entitlement.enforcement is Enforcement.REJECT
    if rejects and used >= limit:
        return f"Limit reached: further usage is refused until it resets {resets}.", None, False
    elapsed = (card.now - start) / (end - start)
    if card.aggregation not in PROJECTED or not PROJECTION_AFTER <= elapsed < 1:
        return None, None, False
    projected = round(used / elapsed)
    if rejects and projected > limit:
        reached = start + (card.now - start) * (limit / used)
        text = (
            f"Estimate: at this pace the limit is reached around {_when(reached, card.tz)}; "
            "usage after that is refused until it resets"
        )
        return None, text, True
    verdict = "over the limit" if projected > limit else "within the limit"
    return None, f"Estimate: about {amount(projected, unit)} by the end of the period, {verdict}", projected > limit


def _past_month(card: CardLimit, limit: int, period: Period) -> LimitView:
    """A month's limit beside a past period: the month's usage against it when the period is a calendar month."""
    unit, used = card.entitlement.unit, card.total
    if not whole_month(period.first_day, period.last_day):
        return LimitView(
            used=used,
            limit=limit,
            heading="Limit per month",
            used_text=None,
            limit_text=amount(limit, unit),
            percent=None,
            over=False,
            over_text="",
            detail_text="Compared on calendar months: show Last month, or a custom range of one whole month.",
        )
    month = f"{period.first_day:%B %Y}"
    if used > limit:
        detail = f"{month} used {used / limit:.0%} of its limit." if limit else f"{month} had a limit of 0."
    elif used == limit and card.entitlement.enforcement is Enforcement.REJECT:
        detail = f"{month} reached its limit: usage beyond it was refused."
    else:
        detail = f"{amount(limit - used, unit)} of the limit were left at the end of {month}."
    return LimitView(
        used=used,
        limit=limit,
        heading=f"Limit in {month}",
        used_text=f"{used:,}",
        limit_text=amount(limit, unit),
        percent=_percent(used, limit),
        over=used > limit,
        over_text=f"Went over the limit by {amount(used - limit, unit)}",
        detail_text=detail,
    )


def _past_days(card: CardLimit, limit: int, period: Period) -> LimitView:
    """A day's limit beside a past period: each of its days against it, the busiest day on the bar."""
    unit, days = card.entitlement.unit, card.days
    over = [d for d in days if d.quantity > limit]
    busiest = max(days, key=lambda d: d.quantity, default=None)
    used = busiest.quantity if busiest else 0
    if over:
        shown = ", ".join(d.short for d in over[:5]) + (f" and {len(over) - 5} more" if len(over) > 5 else "")
        detail = f"Over on {shown}."
    else:
        detail = "Every day stayed within the limit."
    return LimitView(
        used=used,
        limit=limit,
        heading="Limit per day" + (f", busiest day {busiest.short}" if busiest else ""),
        used_text=f"{used:,}",
        limit_text=amount(limit, unit),
        percent=_percent(used, limit),
        over=bool(over),
        over_text=f"Over the limit on {len(over)} of {len(days)} days",
        detail_text=detail,
    )


def _percent(used: int, limit: int) -> float:
    return 100.0 if limit == 0 else min(100 * used / limit, 100.0)


def _when(instant: datetime, tz: tzinfo) -> str:
    local = instant.astimezone(tz)
    return f"{day_label(local.date())}, {local:%H:%M}"
