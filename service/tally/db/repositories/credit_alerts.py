"""Credit alerts' state: which side of each threshold a tenant's remaining credits of a feature were on."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select

from tally.db.dialects import Session
from tally.db.models import CreditAlertRecord


class CreditAlertRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def states(self, tenant_id: UUID, feature_key: str) -> dict[int, CreditAlertRecord]:
        """threshold -> its state row (read under the feature's credits lock)."""
        c = CreditAlertRecord
        stmt = select(c).where(c.tenant_id == tenant_id, c.feature_key == feature_key)
        return {row.threshold: row for row in (await self.session.scalars(stmt)).all()}

    async def put(
        self,
        tenant_id: UUID,
        feature_key: str,
        threshold: int,
        below: bool,
        now: datetime,
        row: CreditAlertRecord | None,
    ) -> None:
        if row is None:
            self.session.add(
                CreditAlertRecord(
                    tenant_id=tenant_id, feature_key=feature_key, threshold=threshold, below=below, updated_at=now
                )
            )
        else:
            row.below, row.updated_at = below, now
        await self.session.flush()
