"""The burn-down's pure rules: the order grants burn in, the windows the time line is cut into, and what each
window's usage charges to the allowance, the grants, or nobody."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tally.domain.plans import LimitPeriod
from tally.metering.credits import Allowance, GrantTerms, burn, burn_order, segments

T0 = datetime(2026, 3, 1, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def grant(grant_id: str, amount: int, priority: int = 0, days: float = 0, expires: float | None = None) -> GrantTerms:
    effective = T0 + timedelta(days=days)
    return GrantTerms(
        grant_id,
        amount,
        priority,
        effective,
        None if expires is None else T0 + timedelta(days=expires),
        T0 + timedelta(days=days, seconds=int(grant_id[-1])),  # created in id order
    )


def test_burn_order_priority_then_soonest_expiry_then_oldest() -> None:
    grants = [grant("g1", 1, 1), grant("g2", 1, 0), grant("g3", 1, 0, expires=10), grant("g4", 1, 0, expires=5)]
    assert [g.grant_id for g in sorted(grants, key=burn_order)] == ["g4", "g3", "g2", "g1"]
    # Without expiries the older grant burns first, whatever their effective times.
    older = GrantTerms("b", 1, 0, T0 + timedelta(days=5), None, T0)
    newer = GrantTerms("a", 1, 0, T0, None, T0 + timedelta(seconds=1))
    assert [g.grant_id for g in sorted([newer, older], key=burn_order)] == ["b", "a"]


def test_segments_cut_at_grant_times_and_local_period_starts() -> None:
    allowance = Allowance(100, LimitPeriod.MONTH, BERLIN)
    g = grant("g1", 10, days=3.5, expires=40)
    windows = segments([g], allowance, g.effective_at, T0 + timedelta(days=50))
    starts = [start for start, _ in windows]
    assert starts[0] == datetime(2026, 2, 28, 23, tzinfo=UTC)  # March 1st, 00:00 in Berlin
    assert g.effective_at in starts
    assert g.expires_at in starts
    assert datetime(2026, 3, 31, 22, tzinfo=UTC) in starts  # April 1st, 00:00 in Berlin (summer time)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))  # consecutive


def test_usage_takes_the_allowance_then_active_grants_then_is_uncovered() -> None:
    allowance = Allowance(100, LimitPeriod.MONTH, BERLIN)
    first, second = grant("g1", 30, 0, days=0, expires=10), grant("g2", 50, 1, days=0)
    windows = segments([first, second], allowance, T0, T0 + timedelta(days=20))
    usage = [0] * len(windows)
    expiry = next(i for i, (start, _) in enumerate(windows) if start == first.expires_at)
    start = next(i for i, (at, _) in enumerate(windows) if at == T0)  # before it (Berlin's March 1st): no grant
    usage[start], usage[expiry] = 120, 60  # 20 over the allowance before the expiry, then 60 more after it
    outcome = burn([first, second], allowance, windows, usage)
    assert outcome.used == {"g1": 20, "g2": 50}  # g1 expired with 10 left; g2 took 50 of the 60
    assert sum(outcome.uncovered.values()) == 10


def test_without_an_allowance_every_unit_burns() -> None:
    g = grant("g1", 5)
    windows = segments([g], None, T0, T0 + timedelta(days=1))
    assert burn([g], None, windows, [7]).used == {"g1": 5}
