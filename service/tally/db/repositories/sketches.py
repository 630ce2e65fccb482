"""``usage_sketch``: an approximate distinct count's sketches, added to by ingestion, rebuilt by voids, read per
window (``tally.metering.sketches`` says what a sketch and a cell are).

A cell's sketch is read, merged with the batch's values in the service and written back: no database merges
DataSketches sketches. That is safe because a cell is written only by a transaction that has locked its
``usage_bucket`` row first (same tenant, feature, grain and bucket start): ingestion upserts that row before it
adds sketches, a void locks it before it rebuilds them. The next writer of the cell waits for that lock and then
reads the sketch its predecessor committed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ColumnClause, LargeBinary, String, TextualSelect, column, delete, insert, select, tuple_, update

from tally.db import dialects
from tally.db.dialects import Dialect, Reads
from tally.db.models import UsageEventRecord, UsageSketchRecord
from tally.db.repositories.totals import (
    BRANCHES_PER_STATEMENT,
    GroupValues,
    Kind,
    Shape,
    bind_statement,
    bucket_source,
    dimension_parts,
    statement_params,
)
from tally.metering.buckets import Range, bucket_end, floor_to
from tally.metering.events import dimension_set
from tally.metering.sketches import SKETCH_GRAINS, CellKey, other_dimensions, sketch_cells, with_values


class SketchRow(NamedTuple):
    """A cell's sketch as a window read sees it: its bucket's start, the feature and the grouped values."""

    at: datetime
    feature_key: str
    group: GroupValues
    sketch: bytes


class StoredEvent(NamedTuple):
    feature_key: str
    timestamp: datetime
    dimensions: dict[str, str]


class SketchRepository:
    def __init__(self, *, session: Reads) -> None:
        self.session = session
        self.dialect = dialects.of(session)

    async def add(self, tenant_id: UUID, cells: Mapping[CellKey, Sequence[str]]) -> None:
        """Add each cell's values to its stored sketch, creating the cells that do not exist yet. Call it after
        the batch's ``usage_bucket`` upsert, whose row locks order the writers of each cell (see above)."""
        if not cells:
            return
        stored = await self._stored(tenant_id, cells)
        rows = [
            {
                "tenant_id": tenant_id,
                "feature_key": key[0],
                "grain_seconds": key[1],
                "bucket_start": key[2],
                "dimension_set": key[3],
                "sketch": with_values(stored.get(key), values),
            }
            for key, values in cells.items()
        ]
        new = [row for row, key in zip(rows, cells, strict=True) if key not in stored]
        known = [row for row, key in zip(rows, cells, strict=True) if key in stored]
        if new:
            await self.session.execute(insert(UsageSketchRecord), new)
        if known:
            await self.session.execute(update(UsageSketchRecord), known)  # by primary key, one statement per row

    async def _stored(self, tenant_id: UUID, cells: Mapping[CellKey, Sequence[str]]) -> dict[CellKey, bytes]:
        s = UsageSketchRecord
        buckets = sorted({key[:3] for key in cells})
        stmt = select(s.feature_key, s.grain_seconds, s.bucket_start, s.dimension_set, s.sketch).where(
            s.tenant_id == tenant_id, tuple_(s.feature_key, s.grain_seconds, s.bucket_start).in_(buckets)
        )
        found = {
            (feature_key, grain, start, dimension_set(dimensions)): sketch
            for feature_key, grain, start, dimensions, sketch in await self.session.execute(stmt)
        }
        return {key: found[key] for key in cells if key in found}

    async def rebuild(self, tenant_id: UUID, event: UsageEventRecord, unique_by: str) -> None:
        """Recompute the cells a voided event was added to (one per grain) from the remaining raw events of its
        day: a value cannot be taken out of a sketch. The caller has locked the event's ``usage_bucket`` rows."""
        e = UsageEventRecord
        others = dimension_set(other_dimensions(event.dimensions or {}, unique_by))
        keys = [(event.feature_key, grain, floor_to(event.timestamp, grain), others) for grain in sorted(SKETCH_GRAINS)]
        day = floor_to(event.timestamp, max(SKETCH_GRAINS))  # every grain's bucket lies inside the day's
        rows = await self.session.execute(
            select(e.timestamp, e.dimensions).where(
                e.tenant_id == tenant_id,
                e.feature_key == event.feature_key,
                e.voided_at.is_(None),
                e.timestamp >= day,
                e.timestamp < bucket_end(day, max(SKETCH_GRAINS)),
            )
        )
        remaining = [StoredEvent(event.feature_key, at, dimensions or {}) for at, dimensions in rows]
        cells = sketch_cells(remaining, {event.feature_key: unique_by})
        s = UsageSketchRecord
        for key in keys:
            where = (
                s.tenant_id == tenant_id,
                s.feature_key == key[0],
                s.grain_seconds == key[1],
                s.bucket_start == key[2],
                s.dimension_set == key[3],
            )
            if key in cells:
                await self.session.execute(update(s).where(*where).values(sketch=with_values(None, cells[key])))
            else:
                await self.session.execute(delete(s).where(*where))

    async def read(
        self,
        tenant_id: UUID,
        feature_keys: Sequence[str],
        ranges: Sequence[Range],
        group_by: tuple[str, ...] = (),
        filters: tuple[tuple[str, tuple[str, ...]], ...] = (),
    ) -> list[SketchRow]:
        """The sketches of the features' cells in ``ranges`` (bucket ranges of the sketch grains), per bucket and
        grouped values among the cells passing ``filters``."""
        shape = Shape("usage_sketch", group_by, tuple(key for key, _ in filters), True)
        width = len(group_by)
        found: list[SketchRow] = []
        for first in range(0, len(ranges), BRANCHES_PER_STATEMENT):
            chunk = ranges[first : first + BRANCHES_PER_STATEMENT]
            params = statement_params(tenant_id, chunk, list(feature_keys), filters)
            for row in await self.session.execute(_read_statement(self.dialect, shape, len(chunk)), params):
                found.append(SketchRow(row[0], row[1], tuple(row[2 : 2 + width]), row[2 + width]))
        return found


_BUCKETS: tuple[Kind] = ("buckets",)


@lru_cache(maxsize=64)
def _read_statement(dialect: Dialect, shape: Shape, count: int) -> TextualSelect:
    selected, where, _ = dimension_parts(dialect, shape, raw=False)
    sql = " UNION ALL ".join(
        f"SELECT bucket_start AS at, feature_key{selected}, sketch{bucket_source(dialect, shape, k, raw=False)}{where}"
        for k in range(count)
    )
    kinds = _BUCKETS * count
    columns: list[ColumnClause[Any]] = [
        column("at", DateTimeUTC()),
        column("feature_key", String()),
        *(column(f"d{i}", String()) for i in range(len(shape.group_by))),
        column("sketch", LargeBinary()),
    ]
    return bind_statement(dialect, sql, shape, kinds).columns(*columns)
