"""Approximate distinct counts' arithmetic, without a database: the documented error bound over random cardinalities
from 10 to 1,000,000, small counts exact, and which cells an event adds to.

The bound is checked on sketches built directly, as ingestion builds them (values spread over cells, each cell
serialised) and merged as a read merges them: a database would add nothing but time to a million values."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from tally.metering.buckets import DAY, HOUR, QUARTER
from tally.metering.events import NewEvent
from tally.metering.sketches import BOUND, CONFIDENCE, RELATIVE_ERROR, Estimates, sketch_cells, with_values

CELLS = 4  # the days (or hours) a window's values are spread over


def estimate(values: list[str]) -> int:
    """The count a read answers for ``values`` recorded into CELLS cells, each cell's sketch stored and merged."""
    cells = [with_values(None, values[i::CELLS]) for i in range(CELLS)]
    estimates = Estimates()
    for cell in cells:
        estimates.add_sketch("window", cell)
    return estimates.counts()["window"]


def test_the_documented_bound_holds_over_random_cardinalities_from_10_to_a_million() -> None:
    rng = random.Random(31)
    cardinalities = [10, 1_000_000, *(round(10 ** rng.uniform(1, 6)) for _ in range(28))]
    errors = []
    for n in cardinalities:
        prefix = f"{rng.getrandbits(32):x}-"
        errors.append(abs(estimate([prefix + str(i) for i in range(n)]) - n) / n)
    assert 3 * RELATIVE_ERROR <= BOUND  # the bound is three standard deviations of the merged estimate
    # Every estimate within the bound (its confidence is 99.7%), and at least 95% within two standard deviations.
    assert CONFIDENCE == 0.997
    assert max(errors) <= BOUND, sorted(zip(errors, cardinalities, strict=True))[-3:]
    assert sum(e <= 2 * RELATIVE_ERROR for e in errors) >= 0.95 * len(errors)


def test_small_counts_are_exact_and_repeats_count_once() -> None:
    for n in (1, 2, 7, 60, 300):
        assert estimate([f"user-{i % n}" for i in range(3 * n)]) == n
    assert Estimates().counts() == {}
    empty = Estimates()
    empty.add_value("w", None)  # an event without the counted value: its group exists, with no one in it
    assert empty.counts() == {"w": 0}


def test_a_cell_takes_new_values_on_top_of_its_stored_sketch() -> None:
    stored = with_values(None, ["a", "b"])
    grown = with_values(stored, ["b", "c"])
    merged = Estimates()
    merged.add_sketch(1, grown)
    merged.add_value(1, "d")
    assert merged.counts() == {1: 4}


def event(key: str, at: datetime, **dimensions: str) -> NewEvent:
    return NewEvent(0, key, "active", 1, at, True, at, dict(sorted(dimensions.items())), "")


def test_cells_are_per_grain_and_other_dimensions_without_the_counted_one() -> None:
    at = datetime(2026, 11, 3, 10, 20, tzinfo=UTC)
    cells = sketch_cells(
        [
            event("a", at, user_id="ann", region="eu"),
            event("b", at, user_id="bob", region="eu"),
            event("c", at, region="us"),  # no user: its cell exists, empty
            NewEvent(0, "d", "calls", 1, at, True, at, {"user_id": "x"}, ""),  # not a sketched feature
        ],
        {"active": "user_id"},
    )
    starts = {DAY: datetime(2026, 11, 3, tzinfo=UTC), HOUR: at.replace(minute=0), QUARTER: at.replace(minute=15)}
    assert cells == {
        ("active", grain, starts[grain], regions): users
        for grain in (QUARTER, HOUR, DAY)
        for regions, users in (('{"region":"eu"}', ["ann", "bob"]), ('{"region":"us"}', []))
    }
    assert list(cells) == sorted(cells)
