"""Catalog use cases: list features, create or update one, load a catalog file."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.engine import begin_write
from tally.db.models import FeatureRecord, UsageEventRecord
from tally.domain.errors import ImmutableFeature, InvalidInput
from tally.domain.models import Aggregation, CatalogFile, Feature, FeatureIn, FeatureKey


class FeatureRepository(SQLAlchemyAsyncRepository[FeatureRecord]):
    model_type = FeatureRecord
    id_attribute = "feature_key"


def to_feature(record: FeatureRecord) -> Feature:
    return Feature(
        feature_key=record.feature_key,
        unit=record.unit,
        aggregation=Aggregation(record.aggregation),
        description=record.description,
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
            await self._put(s.feature_key, FeatureIn(unit=s.unit, aggregation=s.aggregation, description=s.description))
            for s in specs
        ]
        await self.session.commit()
        return results

    async def _put(self, feature_key: str, spec: FeatureIn) -> tuple[Feature, bool]:
        now = datetime.now(UTC)
        record = await self.features.get_one_or_none(feature_key=feature_key, with_for_update=True)
        if record is None:
            record = FeatureRecord(
                feature_key=feature_key,
                unit=spec.unit,
                aggregation=spec.aggregation.value,
                description=spec.description,
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
        if changed and await self._has_usage(feature_key):
            raise ImmutableFeature(
                f"{', '.join(changed)}: cannot change for feature '{feature_key}' once usage has been recorded for it"
            )
        record.unit = spec.unit
        record.aggregation = spec.aggregation.value
        record.description = spec.description
        record.updated_at = now
        await self.features.update(record)
        return to_feature(record), False

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
    try:
        if path.suffix == ".toml":
            catalog = msgspec.toml.decode(data, type=CatalogFile)
        else:
            catalog = msgspec.json.decode(data, type=CatalogFile)
    except msgspec.DecodeError as exc:
        raise InvalidInput.field("catalog file", f"{path}: {exc}") from None
    keys = [f.feature_key for f in catalog.features]
    if len(keys) != len(set(keys)):
        raise InvalidInput.field("catalog file", f"{path}: a feature_key appears more than once")
    return list(catalog.features)
