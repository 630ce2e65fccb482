"""The usage page's pure parts: the period picker, numbers for people, the chart's bars, breakdowns by a
dimension; and ``tally token --link``."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import jwt
import msgspec
import pytest

from tally.cli import main
from tally.domain.catalog import Aggregation, Feature
from tally.domain.errors import InvalidInput
from tally.domain.plans import Enforcement, Entitlement, LimitPeriod
from tally.domain.usage import UsageTotal
from tally.domain.webhooks import DeliveryStatus, RecentAlert, ThresholdCrossed
from tally.ui.limits import limit_view
from tally.ui.periods import PeriodChoice, amount, choose_period, span_label
from tally.ui.view import Breakdown, alert_rows, breakdown_rows, choose_breakdown, feature_cards, page_link

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def test_amounts_have_thousands_separators_and_the_unit() -> None:
    assert amount(0, "requests") == "0 requests"
    assert amount(1234567, "GB-hours") == "1,234,567 GB-hours"


def test_this_and_last_month_follow_the_zone_across_a_year_boundary() -> None:
    this = choose_period("this_month", None, None, BERLIN, NOW)
    assert (this.start, this.end) == (datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 1, 31, 23, tzinfo=UTC))
    last = choose_period("last_month", None, None, BERLIN, NOW)
    assert (last.start, last.end) == (datetime(2025, 11, 30, 23, tzinfo=UTC), this.start)
    assert (last.first_day, last.last_day) == (date(2025, 12, 1), date(2025, 12, 31))


def test_a_custom_range_is_whole_local_days_both_included() -> None:
    period = choose_period("custom", "2026-03-29", "2026-03-29", BERLIN, NOW)  # the day DST starts: 23 hours
    assert period.choice is PeriodChoice.CUSTOM
    assert (period.start, period.end) == (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))


@pytest.mark.parametrize(
    ("choice", "start", "end", "field"),
    [
        ("yesterday", None, None, "period"),
        ("custom", None, "2026-01-02", "from"),
        ("custom", "2026-01-02", "2026-01-01", "to"),
        ("custom", "2026-01-01", "2027-06-01", "to"),
        ("custom", "2026-13-01", "2026-12-01", "from"),
        ("custom", "9999-12-30", "9999-12-31", "to"),
    ],
)
def test_bad_periods_name_the_field(choice: str, start: str | None, end: str | None, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        choose_period(choice, start, end, BERLIN, NOW)
    assert raised.value.detail.startswith(f"{field}: ")


def test_cards_scale_bars_to_the_busiest_day_and_keep_small_days_visible() -> None:
    days = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    daily = [
        UsageTotal(feature_key="api_calls", unit="requests", quantity=q, window_start=s, window_end=s, dimensions={})
        for q, s in zip((0, 1, 10_000), days, strict=True)
    ]
    total = UsageTotal(
        feature_key="api_calls",
        unit="requests",
        quantity=10_001,
        window_start=days[0],
        window_end=days[2],
        dimensions={},
    )
    [card] = feature_cards(
        [
            Feature(
                feature_key="api_calls", unit="requests", aggregation=Aggregation.SUM, description="API", dimensions=[]
            )
        ],
        [total],
        daily,
        UTC,
    )
    assert card.total_text == "10,001 requests"
    assert card.description == "API"
    assert [bar.height for bar in card.bars] == [0.0, 1.0, 100.0]
    assert [day.label for day in card.days] == ["Thu 1 Jan 2026", "Fri 2 Jan 2026", "Sat 3 Jan 2026"]
    assert card.peak_text == "10,000 requests"
    assert card.approximate_text is None


def test_an_approximate_count_says_about_and_its_bound() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    total = UsageTotal(
        feature_key="active",
        unit="users",
        quantity=98_765,
        window_start=at,
        window_end=at,
        dimensions={},
        approximate=True,
    )
    active = Feature(
        feature_key="active",
        unit="users",
        aggregation=Aggregation.UNIQUE_COUNT,
        dimensions=["user_id", "plan"],
        unique_by="user_id",
        approximate=True,
    )
    [card] = feature_cards([active], [total], [total], UTC)
    assert card.dimensions == ["plan"]  # not broken down by the users it counts approximately
    assert card.total_text == "about 98,765 users"
    assert card.days[0].text == "about 98,765 users"
    assert card.approximate_text == "Approximate distinct count: within 5% of the exact number (at 99.7% confidence)"


TOKENS = Feature(feature_key="llm_tokens", unit="tokens", aggregation=Aggregation.SUM, dimensions=["model", "region"])
CALLS = Feature(feature_key="api_calls", unit="requests", aggregation=Aggregation.SUM, dimensions=[])


def test_page_links_keep_the_period_and_time_zone() -> None:
    tenant = uuid.UUID("00000000-0000-4000-8000-000000000001")
    month = {"period": "last_month", "start": "2026-01-01", "end": "2026-01-31", "tz": "Europe/Berlin"}
    assert page_link(tenant, month, "llm_tokens:model") == (
        f"/usage/{tenant}?period=last_month&tz=Europe%2FBerlin&breakdown=llm_tokens%3Amodel"
    )
    custom = {**month, "period": "custom"}
    assert (
        page_link(tenant, custom) == f"/usage/{tenant}?period=custom&start=2026-01-01&end=2026-01-31&tz=Europe%2FBerlin"
    )


def test_a_breakdown_is_a_declared_dimension_of_a_catalog_feature() -> None:
    assert choose_breakdown(None, [TOKENS]) is None
    assert choose_breakdown("", [TOKENS]) is None
    chosen = choose_breakdown("llm_tokens:region", [CALLS, TOKENS])
    assert chosen == Breakdown("llm_tokens", "region")
    assert chosen.param == "llm_tokens:region"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("nope:model", "'nope:model' names no feature of the catalog (feature_key:dimension)"),
        ("llm_tokens", "feature 'llm_tokens' has no dimension '' (its dimensions: model, region)"),
        ("llm_tokens:colour", "feature 'llm_tokens' has no dimension 'colour' (its dimensions: model, region)"),
        ("api_calls:model", "feature 'api_calls' has no dimension 'model' (its dimensions: none)"),
    ],
)
def test_a_breakdown_the_catalog_does_not_offer_says_why(raw: str, says: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        choose_breakdown(raw, [CALLS, TOKENS])
    assert raised.value.detail == f"breakdown: {says}"


def grouped_row(model: str | None, quantity: int) -> UsageTotal:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return UsageTotal(
        feature_key="llm_tokens",
        unit="tokens",
        quantity=quantity,
        window_start=start,
        window_end=start,
        dimensions={"model": model},
    )


def test_breakdown_rows_are_largest_first_with_bars_scaled_to_the_largest() -> None:
    # as the service sorts them: by value, nulls first
    grouped = [grouped_row(None, 7), grouped_row("claude", 300_000), grouped_row("gpt", 1_500_000), grouped_row("z", 7)]
    rows = breakdown_rows(grouped, "model")
    assert [(r.value, r.quantity) for r in rows] == [("gpt", 1_500_000), ("claude", 300_000), (None, 7), ("z", 7)]
    assert [r.bar for r in rows] == [100.0, 20.0, 1.0, 1.0]  # a small value keeps a visible bar


def test_a_breakdown_of_a_period_without_usage_has_no_rows() -> None:
    assert breakdown_rows([grouped_row(None, 0)], "model") == []
    assert [r.value for r in breakdown_rows([grouped_row("gpt", 0)], "model")] == ["gpt"]


def test_token_link_prints_a_sign_in_link(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "link-secret-0123456789-0123456789-abcdef"
    monkeypatch.setenv("TALLY_JWT_SECRET", secret)
    tenant = "00000000-0000-4000-8000-000000000001"
    assert main(["token", "--role", "viewer", "--tenant", tenant, "--link", "http://tally.example:9000/"]) == 0
    link = urlsplit(capsys.readouterr().out.strip())
    assert (link.scheme, link.netloc, link.path) == ("http", "tally.example:9000", "/usage/sign-in")
    claims = jwt.decode(parse_qs(link.fragment)["token"][0], secret, algorithms=["HS256"])
    assert claims["tenant_id"] == tenant
    assert main(["token", "--role", "platform", "--link"]) == 0
    assert capsys.readouterr().out.startswith("http://127.0.0.1:8000/usage/sign-in#token=")


def recent(*statuses: DeliveryStatus, day: bool = False) -> RecentAlert:
    end = datetime(2026, 1, 2, 23, tzinfo=UTC) if day else datetime(2026, 1, 31, 23, tzinfo=UTC)
    crossed = ThresholdCrossed(
        tenant_id=uuid.uuid4(),
        feature_key="api_calls",
        threshold_percent=80,
        limit=10_000,
        used=8_012,
        period_start=datetime(2025, 12, 31, 23, tzinfo=UTC) if not day else datetime(2026, 1, 1, 23, tzinfo=UTC),
        period_end=end,
    )
    return RecentAlert(crossed=crossed, created_at=NOW, deliveries=list(statuses))


def test_an_alerts_status_is_its_worst_delivery_and_counts_mixed_ones() -> None:
    d, p, f = DeliveryStatus.DELIVERED, DeliveryStatus.PENDING, DeliveryStatus.FAILED
    rows = alert_rows([recent(d, d), recent(d, p), recent(d, f, p), recent(), recent(d, day=True)], BERLIN)
    assert [(r.status, r.status_text) for r in rows] == [
        ("delivered", "delivered"),
        ("pending", "1 pending, 1 delivered"),
        ("failed", "1 failed, 1 pending, 1 delivered"),
        ("none", "not sent (no webhook endpoint)"),
        ("delivered", "delivered"),
    ]
    first = rows[0]
    assert (first.threshold_text, first.used_text, first.when_text) == (
        "80%",
        "8,012 of 10,000",
        "Thu 15 Jan 2026, 13:00",
    )
    assert first.period_text == "January 2026"  # a whole month in Berlin
    assert rows[-1].period_text == "Fri 2 Jan 2026"  # a day limit's period is one day


NEW_YORK = ZoneInfo("America/New_York")
DEC_NOW = datetime(2026, 12, 6, 15, tzinfo=UTC)


def test_an_alerts_period_reads_as_it_is_in_the_pages_zone() -> None:
    """A UTC November seen from New York is not a New York month: its bounds are shown with their local times,
    never as "Sat 31 Oct to Mon 30 Nov"."""
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert span_label(start, end, UTC) == "November 2026"
    assert span_label(start, end, NEW_YORK) == "Sat 31 Oct 2026, 20:00 to Mon 30 Nov 2026, 19:00"
    day = datetime(2026, 11, 30, 5, tzinfo=UTC)  # a New York day
    assert span_label(day, day + timedelta(days=1), NEW_YORK) == "Mon 30 Nov 2026"
    alert = recent(DeliveryStatus.DELIVERED)
    crossed = msgspec.structs.replace(alert.crossed, period_start=start, period_end=end)
    (row,) = alert_rows([msgspec.structs.replace(alert, crossed=crossed)], NEW_YORK)
    assert row.period_text == "Sat 31 Oct 2026, 20:00 to Mon 30 Nov 2026, 19:00"


def month_entitlement(
    used: int, limit: int, enforcement: Enforcement = Enforcement.NONE, period: LimitPeriod = LimitPeriod.MONTH
) -> Entitlement:
    """The entitlement of December 2026 (UTC) as the API reports it on DEC_NOW (or of that day)."""
    start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    if period is LimitPeriod.DAY:
        start, end = datetime(2026, 12, 6, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC)
    return Entitlement(
        feature_key="api_calls",
        unit="requests",
        limit=limit,
        used=used,
        remaining=max(limit - used, 0),
        over_limit=used > limit,
        enforcement=enforcement,
        period=period,
        period_start=start,
        period_end=end,
    )


def card_of(
    period_choice: str,
    zone: ZoneInfo,
    total: int,
    entitlement: Entitlement,
    days: dict[int, int] | None = None,
    **custom: str,
):  # type: ignore[no-untyped-def]
    """The api_calls card of a page showing ``period_choice`` in ``zone`` on DEC_NOW, the tenant's zone UTC."""
    period = choose_period(period_choice, custom.get("start"), custom.get("end"), zone, DEC_NOW)
    first = period.first_day
    daily = [
        UsageTotal(
            feature_key="api_calls",
            unit="requests",
            quantity=q,
            window_start=datetime(first.year, first.month, d, tzinfo=zone),
            window_end=datetime(first.year, first.month, d, tzinfo=zone) + timedelta(days=1),
            dimensions={},
        )
        for d, q in (days or {}).items()
    ]
    total_row = UsageTotal(
        feature_key="api_calls",
        unit="requests",
        quantity=total,
        window_start=period.start,
        window_end=period.end,
        dimensions={},
    )
    (card,) = feature_cards([CALLS], [total_row], daily, zone, [entitlement], DEC_NOW, period, "UTC")
    return card


def test_last_month_shows_last_months_usage_against_the_limit_and_says_it_went_over() -> None:
    """The issue's page: "Last month" in New York showed November's 192,755 requests beside "Limit this month:
    35,936 of 190,000" and never said November went over."""
    card = card_of("last_month", NEW_YORK, 192_755, month_entitlement(35_936, 190_000))
    limit = card.limit
    assert limit is not None
    assert (limit.heading, limit.used_text, limit.limit_text) == (
        "Limit in November 2026",
        "192,755",
        "190,000 requests",
    )
    assert limit.over
    assert limit.over_text == "Went over the limit by 2,755 requests"
    assert limit.detail_text == "November 2026 used 101% of its limit."
    assert (limit.percent, limit.projection_text, limit.refused_text) == (100.0, None, None)
    assert limit.note is not None
    assert "America/New_York" in limit.note
    assert "UTC" in limit.note


def test_a_past_month_within_its_limit_says_what_was_left() -> None:
    limit = card_of("last_month", UTC, 150_000, month_entitlement(35_936, 190_000)).limit
    assert limit is not None
    assert (limit.over, limit.used_text, limit.note) == (False, "150,000", None)
    assert limit.detail_text == "40,000 requests of the limit were left at the end of November 2026."


def test_a_past_range_against_a_day_limit_counts_the_days_over_it() -> None:
    days = {2: 50, 3: 120, 4: 101, 5: 20}
    entitlement = month_entitlement(10, 100, period=LimitPeriod.DAY)
    limit = card_of("custom", UTC, 291, entitlement, days, start="2026-11-02", end="2026-11-05").limit
    assert limit is not None
    assert limit.over
    assert limit.over_text == "Over the limit on 2 of 4 days"
    assert limit.detail_text == "Over on 3 Nov, 4 Nov."
    assert (limit.heading, limit.used_text) == ("Limit per day, busiest day 3 Nov", "120")


def test_a_past_range_that_is_not_a_month_is_not_compared_with_a_month_limit() -> None:
    card = card_of("custom", UTC, 500_000, month_entitlement(10, 100), start="2026-11-10", end="2026-11-20")
    limit = card.limit
    assert limit is not None
    assert (limit.used_text, limit.percent, limit.over) == (None, None, False)
    assert limit.heading == "Limit per month"


def test_a_rejecting_limit_that_is_reached_is_not_estimated_over_it_and_says_usage_is_refused() -> None:
    """The issue's page: a rejecting limit at 100/100 was estimated "about 565 by the end of the period, over the
    limit", which a hard limit cannot reach, and nothing said further usage is refused."""
    view = limit_view(month_entitlement(100, 100, Enforcement.REJECT), Aggregation.SUM, DEC_NOW, UTC)
    assert view is not None
    assert view.projection_text is None
    assert view.refused_text == "Limit reached: further usage is refused until it resets Fri 1 Jan 2027, 00:00 (UTC)."
    assert not view.over


def test_a_rejecting_limit_on_its_way_over_says_when_it_will_be_reached_not_a_total_above_it() -> None:
    # 135 of the month's 744 hours have passed: at that pace, 1,000 is reached after 270 hours (12 Dec, 06:00).
    view = limit_view(month_entitlement(500, 1000, Enforcement.REJECT), Aggregation.SUM, DEC_NOW, UTC)
    assert view is not None
    assert view.refused_text is None
    assert view.projection_text == (
        "Estimate: at this pace the limit is reached around Sat 12 Dec 2026, 06:00; usage after that is refused "
        "until it resets"
    )
    assert view.projection_over
    reporting = limit_view(month_entitlement(500, 1000), Aggregation.SUM, DEC_NOW, UTC)
    assert reporting is not None
    assert reporting.projection_text == "Estimate: about 2,756 requests by the end of the period, over the limit"
