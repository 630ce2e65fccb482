"""Catalog use cases: list features, create or update one, load a catalog file."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.models import FeatureRecord
from tally.db.repositories import BucketRepository, FeatureRepository, UsageEventRepository
from tally.db.repositories.features import to_feature
from tally.db.transaction import Transaction
from tally.domain.errors import ImmutableFeature, InvalidInput
from tally.domain.models import Aggregation, CatalogFile, Feature, FeatureIn, FeatureKey, Plan
from tally.strict_input import decode


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
        feature, created = await self._put(feature_key, spec)
        await self.transaction.commit()
        return feature, created

    async def load(
        self, specs: Iterable[Feature], plans: Iterable[Plan] = ()
    ) -> tuple[list[tuple[Feature, bool]], list[tuple[Plan, bool]]]:
        """Create or update every feature of a catalog, then create or replace its plans, in one transaction."""
        from tally.plans.service import PlanService  # plans build on the catalog (and import this module)
        from tally.usage.service import UsageService

        await self.transaction.begin_write()
        features = [
            await self._put(
                s.feature_key,
                FeatureIn(
                    unit=s.unit,
                    aggregation=s.aggregation,
                    description=s.description,
                    dimensions=s.dimensions,
                    unique_by=s.unique_by,
                ),
            )
            for s in specs
        ]
        planner = PlanService(self.session, UsageService(self.session))
        loaded = [await planner.put_in_transaction(plan) for plan in plans]
        await self.transaction.commit()
        return features, loaded

    async def _put(self, feature_key: str, spec: FeatureIn) -> tuple[Feature, bool]:
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
    """``unique_by`` goes with ``unique_count`` and names one of the feature's dimensions."""
    if spec.aggregation is Aggregation.UNIQUE_COUNT:
        if spec.unique_by is None:
            raise InvalidInput.field("unique_by", "is required with aggregation unique_count")
        if spec.unique_by not in spec.dimensions:
            raise InvalidInput.field(
                "unique_by", f"'{spec.unique_by}' must be one of the feature's dimensions ({spec.dimensions})"
            )
    elif spec.unique_by is not None:
        raise InvalidInput.field("unique_by", "goes only with aggregation unique_count")


def check_feature_key(feature_key: str) -> None:
    """The path's key follows the ``FeatureKey`` pattern (Litestar does not apply it to a path parameter)."""
    try:
        msgspec.convert(feature_key, FeatureKey)
    except msgspec.ValidationError as exc:
        raise InvalidInput.field("feature_key", f"'{feature_key}': {exc}") from None


def read_catalog_file(path: Path) -> CatalogFile:
    """Parse a JSON or TOML catalog file (``{"features": [...], "plans": [...]}``); errors name the file and the
    field."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput.field("catalog file", f"cannot read {path}: {exc.strerror}") from None
    catalog = decode(data, CatalogFile, source=f"catalog file {path}", fmt="toml" if path.suffix == ".toml" else "json")
    keys = [f.feature_key for f in catalog.features]
    if len(keys) != len(set(keys)):
        raise InvalidInput.field("catalog file", f"{path}: a feature_key appears more than once")
    plan_keys = [p.plan_key for p in catalog.plans]
    if len(plan_keys) != len(set(plan_keys)):
        raise InvalidInput.field("catalog file", f"{path}: a plan_key appears more than once")
    return catalog
