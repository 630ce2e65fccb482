"""What the usage page shows, worked out without I/O: the chosen period, numbers for people, chart bars,
a feature's breakdown by one of its dimensions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from urllib.parse import urlencode
from uuid import UUID

import msgspec

from tally.domain.catalog import Aggregation, Feature
from tally.domain.errors import InvalidInput
from tally.domain.plans import Entitlement, LimitPeriod
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
    """A card's limit: the current period's usage against it, when the period resets, and an estimate."""

    used: int
    limit: int
    used_text: str
    limit_text: str
    period_text: str
    remaining_text: str
    percent: float
    """Width of the bar, 0 to 100."""
    over: bool
    resets_text: str
    projection_text: str | None
    projection_over: bool


def limit_view(entitlement: Entitlement, aggregation: Aggregation, now: datetime, tz: tzinfo) -> LimitView | None:
    """How a card shows ``entitlement`` (None without a limit): used of limit, remaining, the reset (in ``tz``)
    and, for a growing aggregation once PROJECTION_AFTER of the period has passed, a straight-line estimate
    of the usage at the period's end."""
    if entitlement.limit is None:
        return None
    used, limit, unit = entitlement.used, entitlement.limit, entitlement.unit
    start, end = entitlement.period_start, entitlement.period_end
    elapsed = (now - start) / (end - start)
    projection_text, projection_over = None, False
    if aggregation in PROJECTED and PROJECTION_AFTER <= elapsed < 1:
        projected = round(used / elapsed)
        projection_over = projected > limit
        verdict = "over the limit" if projection_over else "within the limit"
        projection_text = f"Estimate: about {amount(projected, unit)} by the end of the period, {verdict}"
    resets = end.astimezone(tz)
    return LimitView(
        used=used,
        limit=limit,
        used_text=f"{used:,}",
        limit_text=amount(limit, unit),
        period_text="today" if entitlement.period is LimitPeriod.DAY else "this month",
        remaining_text=f"{amount(entitlement.remaining or 0, unit)} left",
        percent=100.0 if limit == 0 else min(100 * used / limit, 100.0),
        over=entitlement.over_limit,
        resets_text=f"{day_label(resets.date())}, {resets:%H:%M}",
        projection_text=projection_text,
        projection_over=projection_over,
    )


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
) -> list[FeatureCard]:
    """One card per feature of ``totals`` (the whole period), with its days from ``daily`` (one row per local day)
    and its limit from ``entitlements`` (the current period's, whatever period the page shows) at ``now``."""
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
                limit=_card_limit(limits.get(total.feature_key), feature, now, tz),
            )
        )
    return cards


def _card_limit(
    entitlement: Entitlement | None, feature: Feature | None, now: datetime | None, tz: tzinfo
) -> LimitView | None:
    if entitlement is None or feature is None or now is None:
        return None
    return limit_view(entitlement, feature.aggregation, now, tz)


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
        first = crossed.period_start.astimezone(tz).date()
        last = (crossed.period_end - timedelta(microseconds=1)).astimezone(tz).date()
        when = alert.created_at.astimezone(tz)
        rows.append(
            AlertRow(
                feature_key=crossed.feature_key,
                threshold_text=f"{crossed.threshold_percent}%",
                used_text=f"{crossed.used:,} of {crossed.limit:,}",
                period_text=day_label(first) if first == last else f"{day_label(first)} to {day_label(last)}",
                when_text=f"{day_label(when.date())}, {when:%H:%M}",
                status=status,
                status_text=status_text,
            )
        )
    return rows
