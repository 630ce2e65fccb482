"""Approximate distinct counts (pure, no I/O): which sketch cells an event adds its counted value to, how a cell's
stored sketch takes new values, and how a window's count is estimated from its cells' sketches.

A sketch is an Apache DataSketches HyperLogLog (``HLL_4``, ``lg_k`` 12: at most about 2.1 KB, whatever the number
of values): sketches of any buckets merge into the sketch of their union, so a window's distinct count costs a
sketch per bucket it covers, not a row per value. The error of an estimate of a merged sketch has a standard
deviation of ``RELATIVE_ERROR`` (the library's figure for ``lg_k`` 12, merged): within ``BOUND`` at ``CONFIDENCE``.
Small counts (up to a few hundred values) are exact in practice: the sketch keeps their hashes one by one.

Cells are keyed like ``usage_bucket`` rows (its grains, so the ingestion's bucket locks cover them, and every window
boundary of every time zone is a cell boundary) and further by the event's other dimension values (the counted
dimension left out), so grouped and filtered reads merge the cells of the groups they keep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from datasketches import hll_sketch, hll_union, tgt_hll_type

from tally.metering.buckets import GRAINS, floor_to
from tally.metering.events import dimension_set

LG_K = 12
"""log2 of the sketch's registers: 4,096, so a merged estimate's standard error is 1.04 / 64, about 1.6%."""
SKETCH_TYPE = tgt_hll_type.HLL_4
SKETCH_GRAINS = GRAINS
"""The grains of sketch cells: those of ``usage_bucket`` (a day, an hour, 15 minutes)."""
RELATIVE_ERROR = hll_sketch.get_rel_err(False, True, LG_K, 1)
"""One standard deviation of a merged estimate's relative error (about 0.0162)."""
BOUND = 0.05
"""The documented error bound: an estimate lies within 5% of the exact count at ``CONFIDENCE`` (three standard
deviations), and within 3.3% at 95% (two)."""
CONFIDENCE = 0.997


class CountedEvent(Protocol):
    @property
    def feature_key(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def dimensions(self) -> Mapping[str, str]: ...


CellKey = tuple[str, int, datetime, str]
"""A sketch cell: (feature key, grain in seconds, bucket start, the other dimension values' canonical text)."""


def other_dimensions(dimensions: Mapping[str, str], counted: str) -> dict[str, str]:
    """An event's dimension values without the counted one: what a sketch cell is grouped and filtered by."""
    return {key: value for key, value in dimensions.items() if key != counted}


def sketch_cells(events: Iterable[CountedEvent], counted: Mapping[str, str]) -> dict[CellKey, list[str]]:
    """The counted values of the events of sketched features (``counted``: feature key -> counted dimension) per
    cell, sorted by key, at every sketch grain. An event without the counted dimension adds no value, but its
    cell exists (as an empty sketch), as its group does in an exact count's answer."""
    cells: dict[CellKey, list[str]] = {}
    for event in events:
        unique_by = counted.get(event.feature_key)
        if unique_by is None:
            continue
        others = dimension_set(other_dimensions(event.dimensions, unique_by))
        value = event.dimensions.get(unique_by)
        for grain in SKETCH_GRAINS:
            values = cells.setdefault((event.feature_key, grain, floor_to(event.timestamp, grain), others), [])
            if value is not None:
                values.append(value)
    return dict(sorted(cells.items()))


def with_values(stored: bytes | None, values: Iterable[str]) -> bytes:
    """A cell's sketch (``stored``, None: a new cell) with ``values`` added, serialised."""
    sketch = hll_sketch(LG_K, SKETCH_TYPE) if stored is None else hll_sketch.deserialize(stored)
    for value in values:
        sketch.update(value)
    return bytes(sketch.serialize_compact())


class Estimates:
    """Distinct counts per key (a feature, window and group): each key's sketches and raw values merged."""

    def __init__(self) -> None:
        self._unions: dict[Any, hll_union] = {}

    def _union(self, key: Any) -> hll_union:
        union = self._unions.get(key)
        if union is None:
            union = self._unions[key] = hll_union(LG_K)
        return union

    def add_sketch(self, key: Any, sketch: bytes) -> None:
        self._union(key).update(hll_sketch.deserialize(sketch))

    def add_value(self, key: Any, value: str | None) -> None:
        """A raw event's counted value (None: an event without it, whose group exists all the same)."""
        union = self._union(key)
        if value is not None:
            union.update(value)

    def counts(self) -> dict[Any, int]:
        """The estimate of each key's union, rounded to a whole count."""
        return {key: round(union.get_estimate()) for key, union in self._unions.items()}
