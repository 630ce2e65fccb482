"""The feature catalog's table."""

from __future__ import annotations

from collections.abc import Iterable

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import select

from tally.db.models import FeatureRecord
from tally.domain.catalog import Aggregation, Feature


def to_feature(record: FeatureRecord) -> Feature:
    return Feature(
        feature_key=record.feature_key,
        unit=record.unit,
        aggregation=Aggregation(record.aggregation),
        description=record.description,
        dimensions=list(record.dimensions),
        unique_by=record.unique_by,
        approximate=record.approximate,
    )


class FeatureRepository(SQLAlchemyAsyncRepository[FeatureRecord]):
    model_type = FeatureRecord
    id_attribute = "feature_key"

    async def features(self, wanted: Iterable[str] | None = None) -> list[Feature]:
        """The features named by ``wanted`` that exist (every feature when None), sorted by key (code point)."""
        stmt = select(FeatureRecord)
        if wanted is not None:
            stmt = stmt.where(FeatureRecord.feature_key.in_(list(wanted)))
        records = (await self.session.scalars(stmt)).all()
        return sorted((to_feature(r) for r in records), key=lambda f: f.feature_key)

    async def declared_dimensions(self, wanted: Iterable[str]) -> dict[str, list[str]]:
        """The dimension keys each existing feature of ``wanted`` declares."""
        stmt = select(FeatureRecord.feature_key, FeatureRecord.dimensions)
        return {
            key: list(keys)
            for key, keys in await self.session.execute(stmt.where(FeatureRecord.feature_key.in_(list(wanted))))
        }

    async def sketched(self, wanted: Iterable[str]) -> dict[str, str]:
        """The counted dimension of each feature of ``wanted`` that counts distinct values approximately."""
        f = FeatureRecord
        stmt = select(f.feature_key, f.unique_by).where(f.feature_key.in_(list(wanted)), f.approximate.is_(True))
        return {key: unique_by for key, unique_by in await self.session.execute(stmt) if unique_by}
