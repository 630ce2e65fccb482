"""Window decomposition, without a database: the ranges of ``decompose`` tile the window exactly, in time
order, each bucket range aligned to its grain, raw ranges only where no bucket fits whole."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tally.metering.buckets import DIMENSION_GRAINS, GRAINS, bucket_end, decompose, floor_to

T0 = datetime(2026, 1, 1, tzinfo=UTC)
instants = st.integers(0, 400 * 86400 * 10**6).map(lambda us: T0 + timedelta(microseconds=us))


@given(a=instants, b=instants, grains=st.sampled_from([GRAINS, DIMENSION_GRAINS, ()]))
def test_ranges_tile_the_window(a, b, grains) -> None:
    start, end = min(a, b), max(a, b)
    ranges = decompose(start, end, grains)
    if start == end:
        assert ranges == []
        return
    assert ranges[0].start == start
    assert ranges[-1].end == end
    for r, following in itertools.pairwise(ranges):
        assert r.end == following.start
    for r in ranges:
        assert r.start < r.end
        if r.grain_seconds:
            assert r.grain_seconds in grains
            assert floor_to(r.start, r.grain_seconds) == r.start
            assert floor_to(r.end, r.grain_seconds) == r.end
        else:
            # A raw range holds no whole bucket of the finest grain.
            finest = min(grains) if grains else None
            if finest is not None:
                first = floor_to(r.start, finest)
                first = first if first == r.start else bucket_end(first, finest)
                assert bucket_end(first, finest) > r.end
    assert sum(1 for r in ranges if r.grain_seconds == 0) <= 2 or not grains
