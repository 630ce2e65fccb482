"""A usage card's credits and holds, worked out without I/O: the allowance left, each active grant's balance and
expiry (marking the one usage burns now), and the live reservations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

import msgspec

from tally.domain.credits import Grant
from tally.domain.plans import Entitlement, Using
from tally.domain.reservations import Reservation
from tally.ui.periods import amount

SHOWN_HOLDS = 5


class CreditLine(msgspec.Struct, frozen=True):
    grant_id: str
    text: str
    burning: bool


class CreditsView(msgspec.Struct, frozen=True):
    allowance_text: str | None
    grants: list[CreditLine]
    held_text: str | None
    holds: list[str]


def credits_view(
    entitlement: Entitlement, grants: Sequence[Grant], holds: Sequence[Reservation], tz: tzinfo
) -> CreditsView | None:
    """The card's credits part (None when the feature has neither active grants nor live holds)."""
    if not grants and not holds:
        return None
    unit = entitlement.unit
    allowance_text = None
    if entitlement.limit is not None:
        left = max(entitlement.limit - entitlement.used, 0)
        allowance_text = f"Allowance left this {entitlement.period.value}: {amount(left, unit)}"
        if entitlement.using is Using.CREDITS:
            allowance_text += " (used up: usage burns credits now)"
        elif entitlement.using is Using.EXHAUSTED:
            allowance_text += " (allowance and credits used up)"
    lines = []
    for grant in grants:
        until = f"until {grant.expires_at.astimezone(tz):%d %b %Y %H:%M}" if grant.expires_at else "no expiry"
        burning = grant.grant_id == entitlement.using_grant
        text = f"{grant.grant_id}: {amount(grant.remaining, unit)} left of {grant.amount:,}, {until}"
        lines.append(CreditLine(grant.grant_id, text + (" (burning now)" if burning else ""), burning))
    held_text = None
    if holds:
        count = f"{len(holds)} live reservation{'' if len(holds) == 1 else 's'}"
        held_text = f"Held by {count}: {amount(sum(h.quantity for h in holds), unit)}"
    shown = [
        f"{h.reservation_id}: {amount(h.quantity, unit)} until {h.expires_at.astimezone(tz):%H:%M:%S}"
        for h in holds[:SHOWN_HOLDS]
    ]
    return CreditsView(allowance_text, lines, held_text, shown)
