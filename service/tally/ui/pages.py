"""The usage pages: one tenant's usage per period, and its CSV download.

They live outside the API's bearer-token middleware (``^/usage`` is excluded in ``create_app``) and check the
sign-in cookie themselves (``tally.ui.signin``). The data comes from the same services as the API's routes (the
reader, on a read replica where there is one), not over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import cache, partial
from typing import Any
from uuid import UUID
from zoneinfo import available_timezones

import msgspec
from litestar import Controller, Request, Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery
from litestar.security.jwt import JWTAuth

from tally.catalog.service import CatalogService
from tally.credits.service import GrantService
from tally.db.repositories import ReservationRepository
from tally.domain.credits import GrantState
from tally.domain.errors import InvalidInput
from tally.domain.plans import Entitlement
from tally.domain.reservations import MAX_RESERVATIONS_PAGE
from tally.domain.usage import WindowSize
from tally.http.auth import Principal
from tally.http.csv import csv_response
from tally.metering.periods import zone
from tally.metering.totals import TotalsQuery
from tally.plans.entitlements import Entitlements
from tally.reservations.service import reservation_out
from tally.ui.credits import credits_view
from tally.ui.periods import MAX_CUSTOM_DAYS, PeriodChoice, choose_period, grace_note, period_label
from tally.ui.signin import HEADERS, SignIn, TokenReader, page, tenant_reader
from tally.ui.view import (
    RECENT_ALERTS,
    FeatureCard,
    alert_rows,
    breakdown_rows,
    choose_breakdown,
    feature_cards,
    page_link,
)
from tally.usage import exports
from tally.usage.reading import UsageReader
from tally.webhooks.service import WebhookService


def usage_pages(auth: JWTAuth[Principal]) -> Router:
    """The pages under ``/usage``, checking tokens exactly as ``auth`` (the API's middleware) does."""
    return Router(
        "/usage",
        route_handlers=[SignIn, UsagePages],
        dependencies={"tokens": Provide(lambda: TokenReader(auth), sync_to_thread=False)},
        include_in_schema=False,
    )


@cache
def _zone_names() -> list[str]:
    return sorted(available_timezones())


class Shown(msgspec.Struct, frozen=True):
    """What a usage page (and its CSV download) is asked to show: the period form's fields, the breakdown."""

    period: str
    start: str | None
    end: str | None
    tz: str
    breakdown: str | None


def provide_shown(
    period: FromQuery[str] = PeriodChoice.THIS_MONTH.value,
    start: FromQuery[str | None] = None,
    end: FromQuery[str | None] = None,
    tz: FromQuery[str] = "UTC",
    breakdown: FromQuery[str | None] = None,
) -> Shown:
    return Shown(period, start, end, tz, breakdown)


class UsagePages(Controller):
    dependencies = {
        "shown": Provide(provide_shown, sync_to_thread=False),
    }

    @get("/{tenant_id:str}")
    async def usagepage(
        self,
        request: Request[Any, Any, Any],
        tokens: NamedDependency[TokenReader],
        usage: NamedDependency[UsageReader],
        catalog: NamedDependency[CatalogService],
        entitlements: NamedDependency[Entitlements],
        webhooks: NamedDependency[WebhookService],
        tenant_id: FromPath[str],
        shown: NamedDependency[Shown],
    ) -> Response[Any]:
        reader = await tenant_reader(request, tokens, tenant_id)
        if isinstance(reader, Response):
            return reader
        principal, tenant = reader
        form = {"period": shown.period, "start": shown.start or "", "end": shown.end or "", "tz": shown.tz}
        context: dict[str, Any] = {
            "principal": principal,
            "tenant": tenant,
            "form": form,
            "zones": _zone_names(),
            "max_days": MAX_CUSTOM_DAYS,
        }
        try:
            zone_info = zone(shown.tz)
            chosen = choose_period(shown.period, shown.start, shown.end, zone_info, now=datetime.now(UTC))
        except InvalidInput as exc:
            return page("usage.html", 400, error=exc.detail, **context)
        query = partial(
            TotalsQuery.build,
            now=datetime.now(UTC),
            period_start=chosen.start,
            period_end=chosen.end,
            timezone=zone_info,
        )
        now = datetime.now(UTC)
        totals = await usage.totals(tenant, query())
        daily = await usage.totals(tenant, query(window_size=WindowSize.DAY))
        features = await catalog.list_features()
        limits = await entitlements.entitlements(tenant, None, now)
        tenant_zone = await entitlements.timezone(tenant)
        cards = feature_cards(features, totals, daily, zone_info, limits, now, chosen, tenant_zone)
        cards = await with_credits(cards, limits, tenant, usage, now, zone_info)
        alerts = alert_rows(await webhooks.recent_alerts(tenant, RECENT_ALERTS), zone_info)
        notice = grace_note(await usage.billing_terms(tenant), now, zone_info)
        form.update(start=chosen.first_day.isoformat(), end=chosen.last_day.isoformat())
        # A breakdown the catalog does not offer (an old link, a typo) is explained; the page still shows.
        split, rows, breakdown_error = None, [], None
        try:
            split = choose_breakdown(shown.breakdown, features)
            if split is not None:
                grouped = await usage.totals(
                    tenant, query(feature_keys=[split.feature_key], group_by=[split.dimension])
                )
                rows = breakdown_rows(grouped, split.dimension)
        except InvalidInput as exc:
            split, rows, breakdown_error = None, [], exc.detail
        return page(
            "usage.html",
            cards=cards,
            alerts=alerts,
            any_usage=any(card.total for card in cards),
            grace_note=notice,
            period_text=period_label(chosen),
            breakdown=split,
            breakdown_rows=rows,
            breakdown_error=breakdown_error,
            link=partial(page_link, tenant, form),
            csv_link=page_link(tenant, form, split.param if split else None, csv=True),
            **context,
        )

    @get("/{tenant_id:str}/usage.csv")
    async def usage_csv(
        self,
        request: Request[Any, Any, Any],
        tokens: NamedDependency[TokenReader],
        usage: NamedDependency[UsageReader],
        catalog: NamedDependency[CatalogService],
        tenant_id: FromPath[str],
        shown: NamedDependency[Shown],
    ) -> Response[Any]:
        """The "Download CSV" link: the page's period totals per feature, or its breakdown's rows, as the API's
        usage-totals CSV."""
        reader = await tenant_reader(request, tokens, tenant_id)
        if isinstance(reader, Response):
            return reader
        principal, tenant = reader
        try:
            zone_info = zone(shown.tz)
            chosen = choose_period(shown.period, shown.start, shown.end, zone_info, now=datetime.now(UTC))
            split = choose_breakdown(shown.breakdown, await catalog.list_features())
        except InvalidInput as exc:
            return page("refused.html", 400, principal=principal, detail=exc.detail)
        group_by = [split.dimension] if split else []
        query = TotalsQuery.build(
            now=datetime.now(UTC),
            feature_keys=[split.feature_key] if split else None,
            period_start=chosen.start,
            period_end=chosen.end,
            timezone=zone_info,
            group_by=group_by,
        )
        name = f"usage-{tenant}-{chosen.first_day}-{chosen.last_day}"
        name += f"-{split.feature_key}-by-{split.dimension}" if split else ""
        return csv_response(exports.totals_csv(await usage.totals(tenant, query), group_by), f"{name}.csv", HEADERS)


async def with_credits(
    cards: list[FeatureCard], limits: list[Entitlement], tenant: UUID, usage: UsageReader, now: datetime, tz: tzinfo
) -> list[FeatureCard]:
    """The cards with their features' active grants and live holds, read on the page's session."""
    grants = await GrantService(usage.session, usage.totals_source).list_grants(tenant, None, GrantState.ACTIVE, now)
    held = await ReservationRepository(session=usage.session).page(tenant, "held", now, None, MAX_RESERVATIONS_PAGE)
    holds = [reservation_out(r, now) for r in held]
    by_feature = {e.feature_key: e for e in limits}
    return [
        msgspec.structs.replace(
            card,
            credits=credits_view(
                by_feature[card.feature_key],
                [g for g in grants if g.feature_key == card.feature_key],
                [h for h in holds if h.feature_key == card.feature_key],
                tz,
            ),
        )
        if card.feature_key in by_feature
        else card
        for card in cards
    ]
