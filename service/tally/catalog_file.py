"""Loading a catalog file: features and plans from JSON or TOML, created or replaced in one transaction.

A use case of its own above both services: the catalog's and the plans' each stay unaware of the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tally.catalog.service import CatalogService
from tally.db.transaction import Transaction
from tally.domain.catalog import Feature, FeatureIn, FeatureSpec
from tally.domain.errors import InvalidInput
from tally.domain.plans import Plan
from tally.http.strict_input import decode
from tally.plans.service import PlanService


class CatalogFile(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A catalog file: ``{"features": [...], "plans": [...]}`` (``plans`` optional)."""

    features: list[FeatureSpec]
    plans: list[Plan] = []


def read_catalog_file(path: Path) -> CatalogFile:
    """Parse a JSON or TOML catalog file; errors name the file and the field."""
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


async def load_catalog(
    session: AsyncSession, features: Iterable[Feature], plans: Iterable[Plan] = ()
) -> tuple[list[tuple[Feature, bool]], list[tuple[Plan, bool]]]:
    """Create or update every feature, then create or replace every plan, in one transaction. Returns each with
    whether it was created."""
    transaction = Transaction(session)
    await transaction.begin_write()
    catalog, planner = CatalogService(session), PlanService(session)
    loaded = [
        await catalog.put_in_transaction(
            f.feature_key,
            FeatureIn(
                unit=f.unit,
                aggregation=f.aggregation,
                description=f.description,
                dimensions=f.dimensions,
                unique_by=f.unique_by,
                approximate=f.approximate,
            ),
        )
        for f in features
    ]
    loaded_plans = [await planner.put_in_transaction(plan) for plan in plans]
    await transaction.commit()
    return loaded, loaded_plans
