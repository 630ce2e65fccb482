"""Catalog use cases: list the features, create or update one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.models import FeatureRecord
from tally.db.repositories import BucketRepository, FeatureRepository, UsageEventRepository
from tally.db.repositories.features import to_feature
from tally.db.transaction import Transaction
from tally.domain.catalog import Aggregation, Feature, FeatureIn
from tally.domain.errors import ImmutableFeature, InvalidInput
from tally.domain.keys import check_feature_key


class CatalogService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.transaction = Transaction(session)
        self.features = FeatureRepository(session=session, auto_commit=False)
        self.events = UsageEventRepository(session=session)
        self.buckets = BucketRepository(session=session)

    async def list_features(self) -> list[Feature]:
        return await self.features.features()

    async def put_feature(self, feature_key: str, spec: FeatureIn) -> tuple[Feature, bool]:
        """Create or update one feature and commit. Returns the feature and whether it was created."""
        check_feature_key(feature_key)
        await self.transaction.begin_write()
        feature, created = await self.put_in_transaction(feature_key, spec)
        await self.transaction.commit()
        return feature, created

    async def put_in_transaction(self, feature_key: str, spec: FeatureIn) -> tuple[Feature, bool]:
        """Create or update one feature in the caller's write transaction (a catalog file loads several)."""
        now = datetime.now(UTC)
        repeated = sorted({k for k in spec.dimensions if spec.dimensions.count(k) > 1})
        if repeated:
            raise InvalidInput.field("dimensions", f"declared more than once: {', '.join(repeated)}")
        check_unique_by(spec)
        record = await self.features.get_one_or_none(feature_key=feature_key, with_for_update=True)
        if record is None:
            record = FeatureRecord(
                feature_key=feature_key,
                unit=spec.unit,
                aggregation=spec.aggregation.value,
                description=spec.description,
                dimensions=list(spec.dimensions),
                unique_by=spec.unique_by,
                approximate=spec.approximate,
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
                ("unique_by", record.unique_by, spec.unique_by),
                ("approximate", record.approximate, spec.approximate),
            )
            if old != new
        ]
        removed = [k for k in record.dimensions if k not in spec.dimensions]
        if (changed or removed) and await self.events.any_for_feature(feature_key):
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
        record.unique_by = spec.unique_by
        record.approximate = spec.approximate
        record.updated_at = now
        await self.features.update(record)
        return to_feature(record), False

    async def _start_dimension_buckets(self, feature_key: str) -> None:
        """A feature gets its first dimensions: from now on its events go to ``usage_dimension_bucket`` too,
        and the usage it already has goes there now, as the set without values (no event of it could carry
        any). Writers (ingestion, voids) take the catalog lock shared before they read the catalog; this takes
        it exclusively, so it waits for the writers that read the old catalog to commit (their buckets are then
        copied), and later writers read the new catalog."""
        await self.transaction.lock_catalog(exclusive=True)
        await self.buckets.start_dimensions(feature_key)


def check_unique_by(spec: FeatureIn) -> None:
    """``unique_by`` (and ``approximate``) go with ``unique_count``, and ``unique_by`` names one of the feature's
    dimensions."""
    if spec.approximate and spec.aggregation is not Aggregation.UNIQUE_COUNT:
        raise InvalidInput.field("approximate", "goes only with aggregation unique_count")
    if spec.aggregation is Aggregation.UNIQUE_COUNT:
        if spec.unique_by is None:
            raise InvalidInput.field("unique_by", "is required with aggregation unique_count")
        if spec.unique_by not in spec.dimensions:
            raise InvalidInput.field(
                "unique_by", f"'{spec.unique_by}' must be one of the feature's dimensions ({spec.dimensions})"
            )
    elif spec.unique_by is not None:
        raise InvalidInput.field("unique_by", "goes only with aggregation unique_count")
