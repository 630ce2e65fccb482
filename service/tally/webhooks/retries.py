"""When a failed delivery is tried again (pure): exponential backoff with full jitter, capped, for a window of
at least a day, then the delivery has failed."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

BASE = timedelta(seconds=5)
CAP = timedelta(hours=1)


def next_attempt(
    failures: int,
    created_at: datetime,
    now: datetime,
    retry_for: timedelta,
    base: timedelta = BASE,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again after ``failures`` failed attempts, or None when the retry window (``retry_for`` from
    ``created_at``) is over. The delay is drawn from [delay/2, delay] with delay = base·2^(failures-1) up to
    ``CAP``: jitter spreads retries of many messages, and half the delay is always kept."""
    if now >= created_at + retry_for:
        return None
    delay = min(base * 2 ** min(failures - 1, 30), max(CAP, base))
    jittered: timedelta = delay * (0.5 + 0.5 * (rng or random).random())
    return min(now + jittered, created_at + retry_for)
