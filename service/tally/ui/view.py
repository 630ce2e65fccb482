"""What the usage page shows, worked out without I/O: feature cards with chart bars, a feature's breakdown by one
of its dimensions, the recent alerts, the page's links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from urllib.parse import urlencode
from uuid import UUID

import msgspec

from tally.domain.catalog import Feature
from tally.domain.errors import InvalidInput
from tally.domain.plans import Entitlement
from tally.domain.usage import UsageTotal
from tally.domain.webhooks import DeliveryStatus, RecentAlert
from tally.metering.sketches import BOUND, CONFIDENCE
from tally.ui.credits import CreditsView
from tally.ui.limits import CardLimit, DayValue, LimitView, card_limit
from tally.ui.periods import Period, PeriodChoice, amount, day_label, span_label

CHART_HEIGHT = 100
BAR_WIDTH = 10
BAR_GAP = 2


class Bar(msgspec.Struct, frozen=True):
    """One day's bar in a chart whose viewBox is ``width`` x ``CHART_HEIGHT``."""

    x: int
    y: float
    height: float
    label: str


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
    approximate_text: str | None = None
    """Set when the totals are estimates: what their error bound is."""
    final: bool = False
    """The period shown lies inside closed billing periods: its total is the one recorded at the close."""
    credits: CreditsView | None = None
    """The feature's active grants and live holds, when it has any."""


APPROXIMATE_TEXT = (
    f"Approximate distinct count: within {BOUND:.0%} of the exact number (at {CONFIDENCE:.1%} confidence)"
)


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
            DayValue(day_label(day), f"{day.day} {day:%b}", r.quantity, amount(r.quantity, r.unit, r.approximate))
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
                dimensions=_breakdowns(feature),
                total=total.quantity,
                total_text=amount(total.quantity, total.unit, total.approximate),
                days=days,
                bars=_bars(days, peak),
                chart_width=max(len(days), 1) * (BAR_WIDTH + BAR_GAP),
                peak_text=amount(peak, total.unit, total.approximate),
                limit=limit,
                approximate_text=APPROXIMATE_TEXT if total.approximate else None,
                final=total.final,
            )
        )
    return cards


def _breakdowns(feature: Feature | None) -> list[str]:
    """The dimensions a card offers to break its feature down by: not the counted one of an approximate distinct
    count (its totals cannot be grouped by it)."""
    if feature is None:
        return []
    return [key for key in feature.dimensions if not (feature.approximate and key == feature.unique_by)]


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
