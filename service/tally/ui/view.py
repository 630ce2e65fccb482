"""What the usage page shows, worked out without I/O: the chosen period, numbers for people, chart bars,
a feature's breakdown by one of its dimensions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from urllib.parse import urlencode
from uuid import UUID

import msgspec

from tally.domain.catalog import Aggregation, Feature
from tally.domain.errors import InvalidInput
from tally.domain.plans import Enforcement, Entitlement, LimitPeriod
from tally.domain.usage import UsageTotal
from tally.domain.webhooks import DeliveryStatus, RecentAlert
from tally.metering.periods import day_start, month_start, next_month_start

MAX_CUSTOM_DAYS = 366
CHART_HEIGHT = 100
BAR_WIDTH = 10
BAR_GAP = 2


class PeriodChoice(StrEnum):
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    CUSTOM = "custom"


class Period(msgspec.Struct, frozen=True):
    """``[start, end)`` in UTC, and the local days it covers (``last_day`` inclusive)."""

    choice: PeriodChoice
    start: datetime
    end: datetime
    first_day: date
    last_day: date


def choose_period(choice: str, start: str | None, end: str | None, tz: tzinfo, now: datetime) -> Period:
    """The period picked in the form: this or last calendar month in ``tz``, or whole local days
    ``start``..``end`` (ISO dates, both included). A bad choice is an ``InvalidInput`` naming the field."""
    try:
        picked = PeriodChoice(choice)
    except ValueError:
        raise InvalidInput.field("period", f"'{choice}' is not one of this month, last month, custom") from None
    try:
        if picked is PeriodChoice.CUSTOM:
            first, last = _day("from", start), _day("to", end)
            if last < first:
                raise InvalidInput.field("to", "must not be before 'from'")
            if (last - first).days >= MAX_CUSTOM_DAYS:
                raise InvalidInput.field("to", f"a custom range is at most {MAX_CUSTOM_DAYS} days")
            begin, finish = day_start(first, tz), day_start(last + timedelta(days=1), tz)
        else:
            this_month = month_start(now, tz)
            if picked is PeriodChoice.THIS_MONTH:
                begin, finish = this_month, next_month_start(now, tz)
            else:
                begin, finish = month_start(this_month - timedelta(microseconds=1), tz), this_month
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput.field("to", "the range lies outside years 1 to 9999") from None
    last_day = (finish - timedelta(microseconds=1)).astimezone(tz).date()
    return Period(picked, begin, finish, begin.astimezone(tz).date(), last_day)


def _day(field: str, raw: str | None) -> date:
    if not raw:
        raise InvalidInput.field(field, "pick both dates of a custom range")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput.field(field, f"'{raw}' is not a date (YYYY-MM-DD)") from None


def amount(quantity: int, unit: str) -> str:
    """A quantity as people read it: thousands separators and the unit (``1,234,567 requests``)."""
    return f"{quantity:,} {unit}"


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def period_label(period: Period) -> str:
    first, last = period.first_day, period.last_day
    return f"{first.day} {first:%b %Y} to {last.day} {last:%b %Y}"


def whole_month(first: date, last: date) -> bool:
    """``first``..``last`` (both included) is one calendar month."""
    return first.day == 1 and (first.year, first.month) == (last.year, last.month) and (last + timedelta(1)).day == 1


def span_label(start: datetime, end: datetime, tz: tzinfo) -> str:
    """``[start, end)`` as people read it in ``tz``: "November 2026" for a whole local month, a day or "A to B" for
    whole local days, else both instants with their local times (a UTC month seen from New York is not a month
    there, and must not read as one)."""
    first, finish = start.astimezone(tz), end.astimezone(tz)
    if first.time() == time(0) and finish.time() == time(0):
        last = finish.date() - timedelta(days=1)
        if whole_month(first.date(), last):
            return f"{first:%B %Y}"
        return day_label(last) if first.date() == last else f"{day_label(first.date())} to {day_label(last)}"
    return f"{day_label(first.date())}, {first:%H:%M} to {day_label(finish.date())}, {finish:%H:%M}"


class Bar(msgspec.Struct, frozen=True):
    """One day's bar in a chart whose viewBox is ``width`` x ``CHART_HEIGHT``."""

    x: int
    y: float
    height: float
    label: str


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


class FeatureCard(msgspec.Struct, frozen=True):
    feature_key: str
    unit: str
    description: str | None
    dimensions: list[str]
    total: int
    total_text: str
    days: list[DayValue]
    bars: list[Bar]
    chart_width: int
    peak_text: str
    limit: LimitView | None = None


def feature_cards(
    features: Sequence[Feature],
    totals: Sequence[UsageTotal],
    daily: Sequence[UsageTotal],
    tz: tzinfo,
    entitlements: Sequence[Entitlement] = (),
    now: datetime | None = None,
    period: Period | None = None,
    tenant_zone: str | None = None,
) -> list[FeatureCard]:
    """One card per feature of ``totals`` (the whole ``period``), with its days from ``daily`` (one row per local
    day) and its limit (see ``card_limit``) from ``entitlements`` at ``now``; ``tenant_zone`` is the zone the
    tenant's limits count their periods in."""
    catalog = {f.feature_key: f for f in features}
    limits = {e.feature_key: e for e in entitlements}
    cards = []
    for total in totals:
        rows = [r for r in daily if r.feature_key == total.feature_key]
        days = [
            DayValue(day_label(day), f"{day.day} {day:%b}", r.quantity, amount(r.quantity, r.unit))
            for r in rows
            for day in [r.window_start.astimezone(tz).date()]
        ]
        peak = max((d.quantity for d in days), default=0)
        feature = catalog.get(total.feature_key)
        entitlement = limits.get(total.feature_key)
        limit = None
        if entitlement is not None and feature is not None and now is not None:
            judged = CardLimit(entitlement, feature.aggregation, now, tz, period, total.quantity, days, tenant_zone)
            limit = card_limit(judged)
        cards.append(
            FeatureCard(
                feature_key=total.feature_key,
                unit=total.unit,
                description=feature.description if feature else None,
                dimensions=feature.dimensions if feature else [],
                total=total.quantity,
                total_text=amount(total.quantity, total.unit),
                days=days,
                bars=_bars(days, peak),
                chart_width=max(len(days), 1) * (BAR_WIDTH + BAR_GAP),
                peak_text=amount(peak, total.unit),
                limit=limit,
            )
        )
    return cards


def _bars(days: Sequence[DayValue], peak: int) -> list[Bar]:
    # Hand-rolled chart: bar heights scaled to the busiest day; a day with usage gets at least one unit of
    # height so that it stays visible next to a much larger peak.
    bars = []
    for i, day in enumerate(days):
        height = 0.0 if peak == 0 or day.quantity == 0 else max(CHART_HEIGHT * day.quantity / peak, 1.0)
        bars.append(
            Bar(x=i * (BAR_WIDTH + BAR_GAP), y=CHART_HEIGHT - height, height=height, label=f"{day.label}: {day.text}")
        )
    return bars


def page_link(tenant: UUID, form: Mapping[str, str], breakdown: str | None = None, csv: bool = False) -> str:
    """The usage page for the period of ``form`` (the period form's fields), broken down by ``breakdown``
    (``feature_key:dimension``) if given; with ``csv``, its totals as a CSV download."""
    query = {"period": form["period"]}
    if form["period"] == PeriodChoice.CUSTOM:
        query.update(start=form["start"], end=form["end"])
    query["tz"] = form["tz"]
    if breakdown:
        query["breakdown"] = breakdown
    return f"/usage/{tenant}{'/usage.csv' if csv else ''}?{urlencode(query)}"


class Breakdown(msgspec.Struct, frozen=True):
    """A feature's period total split by the values of one dimension it declares."""

    feature_key: str
    dimension: str

    @property
    def param(self) -> str:
        return f"{self.feature_key}:{self.dimension}"


def choose_breakdown(raw: str | None, features: Sequence[Feature]) -> Breakdown | None:
    """The breakdown asked for as ``feature_key:dimension``, None for none. One that no feature of the catalog
    offers is an ``InvalidInput`` saying why."""
    if not raw:
        return None
    feature_key, _, dimension = raw.partition(":")
    feature = next((f for f in features if f.feature_key == feature_key), None)
    if feature is None:
        raise InvalidInput.field("breakdown", f"'{raw}' names no feature of the catalog (feature_key:dimension)")
    if dimension not in feature.dimensions:
        offered = ", ".join(feature.dimensions) or "none"
        raise InvalidInput.field(
            "breakdown", f"feature '{feature_key}' has no dimension '{dimension}' (its dimensions: {offered})"
        )
    return Breakdown(feature_key, dimension)


class ValueRow(msgspec.Struct, frozen=True):
    """One value's line of a breakdown; ``value`` None for the events without the dimension. ``bar`` is the
    width of its bar in percent of the largest value's."""

    value: str | None
    quantity: int
    bar: float


def breakdown_rows(grouped: Sequence[UsageTotal], dimension: str) -> list[ValueRow]:
    """The lines of a breakdown by ``dimension`` from one feature's grouped totals over one period, largest
    first (ties by value, "(none)" first); no lines when nothing was used in the period."""
    if len(grouped) == 1 and grouped[0].quantity == 0 and grouped[0].dimensions.get(dimension) is None:
        return []  # the service's single zero row of a period where nothing matched
    ordered = sorted(
        grouped, key=lambda r: (-r.quantity, r.dimensions[dimension] is not None, r.dimensions[dimension] or "")
    )
    peak = max((r.quantity for r in ordered), default=0)
    return [
        ValueRow(
            value=r.dimensions[dimension],
            quantity=r.quantity,
            # as in the daily chart: a value with usage keeps a visible bar next to a much larger one
            bar=0.0 if peak == 0 or r.quantity == 0 else max(100 * r.quantity / peak, 1.0),
        )
        for r in ordered
    ]


RECENT_ALERTS = 10
STATUS_ORDER = (DeliveryStatus.FAILED, DeliveryStatus.PENDING, DeliveryStatus.DELIVERED)


class AlertRow(msgspec.Struct, frozen=True):
    """One line of the page's recent alerts. ``status`` is the worst of its deliveries (``none``: no endpoint
    received it); ``status_text`` says it for people, counting each status when the endpoints differ."""

    feature_key: str
    threshold_text: str
    used_text: str
    period_text: str
    when_text: str
    status: str
    status_text: str


def alert_rows(alerts: Sequence[RecentAlert], tz: tzinfo) -> list[AlertRow]:
    rows = []
    for alert in alerts:
        crossed = alert.crossed
        counts = {s: alert.deliveries.count(s) for s in STATUS_ORDER if s in alert.deliveries}
        if not counts:
            status, status_text = "none", "not sent (no webhook endpoint)"
        else:
            status = next(iter(counts)).value
            status_text = status if len(counts) == 1 else ", ".join(f"{n} {s.value}" for s, n in counts.items())
        when = alert.created_at.astimezone(tz)
        rows.append(
            AlertRow(
                feature_key=crossed.feature_key,
                threshold_text=f"{crossed.threshold_percent}%",
                used_text=f"{crossed.used:,} of {crossed.limit:,}",
                period_text=span_label(crossed.period_start, crossed.period_end, tz),
                when_text=f"{day_label(when.date())}, {when:%H:%M}",
                status=status,
                status_text=status_text,
            )
        )
    return rows
