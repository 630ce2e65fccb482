"""Catalog use cases: list features, create or update one, load a catalog file."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import exists, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.engine import begin_write, lock_dimensions
from tally.db.models import (
    Dimensions,
    FeatureRecord,
    UsageBucketRecord,
    UsageDimensionBucketRecord,
    UsageEventRecord,
)
from tally.domain.errors import ImmutableFeature, InvalidInput
from tally.domain.models import Aggregation, CatalogFile, Feature, FeatureIn, FeatureKey
from tally.strict_input import decode
from tally.usage.buckets import DAY, DIMENSION_GRAINS, GRAINS, MONTH, Cells, floor_to, fold


class FeatureRepository(SQLAlchemyAsyncRepository[FeatureRecord]):
    model_type = FeatureRecord
    id_attribute = "feature_key"


def to_feature(record: FeatureRecord) -> Feature:
    return Feature(
        feature_key=record.feature_key,
        unit=record.unit,
        aggregation=Aggregation(record.aggregation),
        description=record.description,
        dimensions=list(record.dimensions),
    )


class CatalogService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.features = FeatureRepository(session=session, auto_commit=False)

    async def list_features(self) -> list[Feature]:
        records = await self.features.get_many(order_by=[("feature_key", False)])
        return [to_feature(r) for r in records]

    async def put_feature(self, feature_key: str, spec: FeatureIn) -> tuple[Feature, bool]:
        """Create or update one feature and commit. Returns the feature and whether it was created."""
        check_feature_key(feature_key)
        await begin_write(self.session)
        feature, created = await self._put(feature_key, spec)
        await self.session.commit()
        return feature, created

    async def load(self, specs: Iterable[Feature]) -> list[tuple[Feature, bool]]:
        """Create or update every feature of a catalog in one transaction."""
        await begin_write(self.session)
        results = [
            await self._put(
                s.feature_key,
                FeatureIn(unit=s.unit, aggregation=s.aggregation, description=s.description, dimensions=s.dimensions),
            )
            for s in specs
        ]
        await self.session.commit()
        return results

    async def _put(self, feature_key: str, spec: FeatureIn) -> tuple[Feature, bool]:
        now = datetime.now(UTC)
        repeated = sorted({k for k in spec.dimensions if spec.dimensions.count(k) > 1})
        if repeated:
            raise InvalidInput.field("dimensions", f"declared more than once: {', '.join(repeated)}")
        record = await self.features.get_one_or_none(feature_key=feature_key, with_for_update=True)
        if record is None:
            record = FeatureRecord(
                feature_key=feature_key,
                unit=spec.unit,
                aggregation=spec.aggregation.value,
                description=spec.description,
                dimensions=list(spec.dimensions),
                created_at=now,
                updated_at=now,
            )
            await self.features.add(record)
            return to_feature(record), True
        changed = [
            name
            for name, old, new in (
                ("unit", record.unit, spec.unit),
                ("aggregation", record.aggregation, spec.aggregation.value),
            )
            if old != new
        ]
        removed = [k for k in record.dimensions if k not in spec.dimensions]
        if (changed or removed) and await self._has_usage(feature_key):
            what = [*changed, *(f"dimension '{k}'" for k in removed)]
            raise ImmutableFeature(
                f"{', '.join(what)}: cannot change or be removed for feature '{feature_key}' once usage has "
                "been recorded for it"
            )
        if spec.dimensions and not record.dimensions:
            await self._start_dimension_buckets(feature_key)
        record.unit = spec.unit
        record.aggregation = spec.aggregation.value
        record.description = spec.description
        record.dimensions = list(spec.dimensions)
        record.updated_at = now
        await self.features.update(record)
        return to_feature(record), False

    async def _start_dimension_buckets(self, feature_key: str) -> None:
        """A feature gets its first dimensions: from now on its events go to ``usage_dimension_bucket`` too,
        and the usage it already has goes there now, as the set without values (no event of it could carry
        any): its day and hour buckets as they are, months added up from its days. See ``lock_dimensions``
        for the writers that read the catalog before this change."""
        await lock_dimensions(self.session, exclusive=True)
        source, target = UsageBucketRecord, UsageDimensionBucketRecord
        copied = [grain for grain in DIMENSION_GRAINS if grain in GRAINS]
        copy = select(
            source.tenant_id,
            source.feature_key,
            source.grain_seconds,
            source.bucket_start,
            literal({}, Dimensions()),
            source.quantity,
            source.event_count,
            source.max_quantity,
            source.latest_key,
        ).where(source.feature_key == feature_key, source.grain_seconds.in_(copied))
        columns = ["tenant_id", "feature_key", "grain_seconds", "bucket_start", "dimension_set"]
        columns += ["quantity", "event_count", "max_quantity", "latest_key"]
        await self.session.execute(insert(target).from_select(columns, copy))
        days = await self.session.execute(
            select(source.tenant_id, source.bucket_start, source.quantity, source.event_count, source.max_quantity)
            .add_columns(source.latest_key)
            .where(source.feature_key == feature_key, source.grain_seconds == DAY)
        )
        months: Cells = {}  # (tenant, month) -> partial sums
        for tenant_id, start, quantity, count, largest, latest in days:
            fold(months, (tenant_id, floor_to(start, MONTH)), quantity, count, largest, latest)
        if months:
            await self.session.execute(
                insert(target),
                [
                    {
                        "tenant_id": tenant_id,
                        "feature_key": feature_key,
                        "grain_seconds": MONTH,
                        "bucket_start": start,
                        "dimension_set": {},
                        "quantity": quantity,
                        "event_count": count,
                        "max_quantity": largest,
                        "latest_key": latest,
                    }
                    for (tenant_id, start), (quantity, count, largest, latest) in sorted(months.items())
                ],
            )

    async def _has_usage(self, feature_key: str) -> bool:
        found = await self.session.scalar(select(exists().where(UsageEventRecord.feature_key == feature_key)))
        return bool(found)


def check_feature_key(feature_key: str) -> None:
    """The path's key follows the ``FeatureKey`` pattern (Litestar does not apply it to a path parameter)."""
    try:
        msgspec.convert(feature_key, FeatureKey)
    except msgspec.ValidationError as exc:
        raise InvalidInput.field("feature_key", f"'{feature_key}': {exc}") from None


def read_catalog_file(path: Path) -> list[Feature]:
    """Parse a JSON or TOML catalog file (``{"features": [...]}``); errors name the file and the field."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput.field("catalog file", f"cannot read {path}: {exc.strerror}") from None
    catalog = decode(data, CatalogFile, source=f"catalog file {path}", fmt="toml" if path.suffix == ".toml" else "json")
    keys = [f.feature_key for f in catalog.features]
    if len(keys) != len(set(keys)):
        raise InvalidInput.field("catalog file", f"{path}: a feature_key appears more than once")
    return list(catalog.features)
