"""Credit grants: create, read, void. Never updated otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import select

from tally.db.dialects import Reads
from tally.db.models import CreditGrantRecord


async def live_grants(reads: Reads, tenant_id: UUID, feature_keys: Iterable[str] | None) -> Sequence[Any]:
    """The tenant's grants (of ``feature_keys``) that are not voided, as rows of (feature_key, grant_id, amount,
    priority, effective_at, expires_at, created_at): the entitlement check reads them on its connection, without
    a session (``GrantRepository.grants`` answers records)."""
    g = CreditGrantRecord
    columns = (g.feature_key, g.grant_id, g.amount, g.priority, g.effective_at, g.expires_at, g.created_at)
    stmt = select(*columns).where(g.tenant_id == tenant_id, g.voided_at.is_(None))
    if feature_keys is not None:
        stmt = stmt.where(g.feature_key.in_(list(feature_keys)))
    return (await reads.execute(stmt)).all()


class GrantRepository(SQLAlchemyAsyncRepository[CreditGrantRecord]):
    model_type = CreditGrantRecord
    id_attribute = "grant_id"

    async def grant(self, tenant_id: UUID, grant_id: str) -> CreditGrantRecord | None:
        return await self.session.get(CreditGrantRecord, (tenant_id, grant_id))

    async def grants(
        self, tenant_id: UUID, feature_keys: Iterable[str] | None = None, *, voided: bool = True
    ) -> list[CreditGrantRecord]:
        """The tenant's grants (of ``feature_keys``; with the voided ones unless ``voided`` is false)."""
        g = CreditGrantRecord
        stmt = select(g).where(g.tenant_id == tenant_id)
        if feature_keys is not None:
            stmt = stmt.where(g.feature_key.in_(list(feature_keys)))
        if not voided:
            stmt = stmt.where(g.voided_at.is_(None))
        return list((await self.session.scalars(stmt)).all())

    async def granted_features(self, tenant_id: UUID, feature_keys: Iterable[str]) -> set[str]:
        """Which of ``feature_keys`` have grants that are not voided: one indexed read."""
        g = CreditGrantRecord
        stmt = (
            select(g.feature_key)
            .where(g.tenant_id == tenant_id, g.feature_key.in_(list(feature_keys)), g.voided_at.is_(None))
            .distinct()
        )
        return set((await self.session.scalars(stmt)).all())

    async def add_grant(self, record: CreditGrantRecord) -> None:
        self.session.add(record)
        await self.session.flush()

    async def void(self, record: CreditGrantRecord, at: datetime, by: str, reason: str) -> None:
        record.voided_at, record.voided_by, record.void_reason = at, by, reason
        await self.session.flush()
