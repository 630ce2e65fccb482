"""The usage page's pure parts: the period picker, numbers for people, the chart's bars; and ``tally token --link``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import jwt
import pytest

from tally.cli import main
from tally.domain.errors import InvalidInput
from tally.domain.models import Aggregation, Feature, UsageTotal
from tally.ui.view import PeriodChoice, amount, choose_period, feature_cards

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
        UsageTotal(feature_key="api_calls", unit="requests", quantity=q, window_start=s, window_end=s)
        for q, s in zip((0, 1, 10_000), days, strict=True)
    ]
    total = UsageTotal(
        feature_key="api_calls", unit="requests", quantity=10_001, window_start=days[0], window_end=days[2]
    )
    [card] = feature_cards(
        [Feature(feature_key="api_calls", unit="requests", aggregation=Aggregation.SUM, description="API")],
        [total],
        daily,
        UTC,
    )
    assert card.total_text == "10,001 requests"
    assert card.description == "API"
    assert [bar.height for bar in card.bars] == [0.0, 1.0, 100.0]
    assert [day.label for day in card.days] == ["Thu 1 Jan 2026", "Fri 2 Jan 2026", "Sat 3 Jan 2026"]
    assert card.peak_text == "10,000 requests"


def test_token_link_prints_a_sign_in_link(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "link-secret-0123456789-0123456789-abcdef"
    monkeypatch.setenv("TALLY_JWT_SECRET", secret)
    tenant = "00000000-0000-4000-8000-000000000001"
    assert main(["token", "--role", "viewer", "--tenant", tenant, "--link", "http://tally.example:9000/"]) == 0
    link = urlsplit(capsys.readouterr().out.strip())
    assert (link.scheme, link.netloc, link.path) == ("http", "tally.example:9000", "/usage/sign-in")
    claims = jwt.decode(parse_qs(link.query)["token"][0], secret, algorithms=["HS256"])
    assert claims["tenant_id"] == tenant
    assert main(["token", "--role", "platform", "--link"]) == 0
    assert capsys.readouterr().out.startswith("http://127.0.0.1:8000/usage/sign-in?token=")
