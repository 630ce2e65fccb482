"""The aggregation registry and the partial-state fold, without a database: folding partial states in any
split, in any order, gives the state of all the events, and each aggregation's value is its plain Python
counterpart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.domain.catalog import Aggregation
from tally.metering.aggregations import AGGREGATIONS, COLUMN_NAMES, EMPTY, State, latest_key, value
from tally.metering.buckets import DIMENSION_BUCKETS, GRAINS, USAGE_BUCKETS, bucket_cells, fold

T0 = datetime(2026, 11, 1, tzinfo=UTC)

# (quantity, seconds after T0, position in the batch): the position, unique as in a batch, breaks ties of
# `latest`; few distinct seconds, so ties happen.
events_ = st.lists(
    st.tuples(st.integers(0, 2**53 - 1), st.sampled_from([0, 1, 900, 3600, 86400, 40 * 86400])), min_size=1, max_size=40
).map(lambda events: [(q, s, i) for i, (q, s) in enumerate(events)])


SUMMABLE = [a for a in Aggregation if AGGREGATIONS[a].summable]


def plain(aggregation: Aggregation, events: list[tuple[int, int, int]]) -> int:
    quantities = [q for q, _, _ in events]
    return {
        Aggregation.SUM: sum(quantities),
        Aggregation.COUNT: len(quantities),
        Aggregation.MAX: max(quantities),
        Aggregation.MIN: min(quantities),
        Aggregation.LATEST: max(events, key=lambda e: (e[1], e[2]))[0],
    }[aggregation]  # every summable aggregation; a distinct count is tested on both databases


def state_of(event: tuple[int, int, int]) -> State:
    quantity, seconds, position = event
    at = T0 + timedelta(seconds=seconds)
    return State.of_event(quantity, latest_key(at, T0, position, quantity))


def test_every_aggregation_is_in_the_registry_and_state_matches_its_columns() -> None:
    assert set(AGGREGATIONS) == set(Aggregation)
    assert State._fields == COLUMN_NAMES
    assert {rule.state for rule in AGGREGATIONS.values()} <= set(COLUMN_NAMES)


@given(events=events_, split=st.integers(0, 40), data=st.data())
def test_folded_partial_states_give_every_aggregation(events, split, data) -> None:
    # Two partial states (as two buckets, or a bucket and a raw edge), each folded in a random order.
    split = min(split, len(events))
    parts = [events[:split], data.draw(st.permutations(events[split:]))]
    states = {}
    for i, part in enumerate(parts):
        for e in part:
            fold(states, i, state_of(e))
    whole = states[0].merge(states[1]) if len(states) == 2 else next(iter(states.values()))
    for aggregation in SUMMABLE:
        assert value(aggregation, whole) == plain(aggregation, events), aggregation


def test_an_empty_window_is_zero_for_every_aggregation() -> None:
    for aggregation in Aggregation:
        assert value(aggregation, None) == 0
        assert value(aggregation, EMPTY) == 0


def test_a_distinct_count_is_not_summable_and_comes_from_its_count() -> None:
    assert [a for a in Aggregation if a not in SUMMABLE] == [Aggregation.UNIQUE_COUNT]
    busy = State.of_event(5, latest_key(T0, T0, 0, 5))
    assert value(Aggregation.UNIQUE_COUNT, busy, 3) == 3  # the state's sums say nothing about distinct values
    assert value(Aggregation.UNIQUE_COUNT, busy, None) == 0


class _Event:
    def __init__(self, quantity: int, at: datetime, position: int, dimension_set: str = "{}") -> None:
        self.feature_key, self.quantity, self.timestamp = "f", quantity, at
        self.latest_key = latest_key(at, T0, position, quantity)
        self.dimension_set = dimension_set


@given(events=events_)
def test_bucket_cells_hold_the_state_of_their_events(events) -> None:
    stored = [_Event(q, T0 + timedelta(seconds=s), p) for q, s, p in events]
    cells = bucket_cells(stored)
    assert [key for key, _ in cells] == sorted(key for key, _ in cells)  # key order: the upsert's lock order
    for grain in GRAINS:
        at_grain = [(key, state) for key, state in cells if key[0] == grain]
        assert sum(state.event_count for _, state in at_grain) == len(events)
        assert sum(state.quantity for _, state in at_grain) == sum(q for q, _, _ in events)
        assert min(state.min_quantity for _, state in at_grain) == min(q for q, _, _ in events)
    assert [name for name in USAGE_BUCKETS.keys] == ["grain_seconds", "bucket_start", "feature_key"]
    assert DIMENSION_BUCKETS.keys[0] == "feature_key"


@pytest.mark.parametrize("quantities", [[7], [3, 9, 1], [5, 5, 2, 8]])
def test_a_group_of_events_folds_like_each_event_merged(quantities: list[int]) -> None:
    """What ingestion computes per bucket (``of_events``, ``combined``) equals merging one event at a time."""
    keys = [latest_key(T0, T0, position, quantity) for position, quantity in enumerate(quantities)]
    merged = State.of_event(quantities[0], keys[0])
    for quantity, key in zip(quantities[1:], keys[1:], strict=True):
        merged = merged.merge(State.of_event(quantity, key))
    assert State.of_events(quantities, keys) == merged
    halves = [State.of_events(quantities[:1], keys[:1]), State.of_events(quantities, keys)]
    assert State.combined(halves) == halves[0].merge(halves[1])
