"""Credit grants: create, read, void. Never updated otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Integer, String, TextClause, TextualSelect, Uuid, bindparam, column, select, text

from tally.db import dialects
from tally.db.dialects import Dialect, Reads
from tally.db.models import CreditGrantRecord


async def live_grants(reads: Reads, tenant_id: UUID, feature_keys: Iterable[str] | None) -> Sequence[Any]:
    """The tenant's grants (of ``feature_keys``) that are not voided, as rows of (feature_key, grant_id, amount,
    priority, effective_at, expires_at, created_at): the entitlement check reads them on its connection, without
    a session (``GrantRepository.grants`` answers records)."""
    dialect = dialects.of(reads)
    params: dict[str, Any] = {"tenant_id": tenant_id}
    if feature_keys is not None:
        params["features"] = list(feature_keys)
    return await dialect.fetch_rows(reads, _live_grants(dialect, some_features=feature_keys is not None), params)


@lru_cache(maxsize=8)
def _live_grants(dialect: Dialect, *, some_features: bool) -> TextualSelect:
    # Text through the dialect's fetch_rows, like the totals: on PostgreSQL a prepared statement on asyncpg's own
    # connection. Built with select() and run through SQLAlchemy's execution, it cost the entitlement check a fifth
    # of its CPU (the statement made, its cache key computed and its result wrapped, on every check).
    return grant_rows(text(live_grants_sql(dialect, some_features=some_features)), dialect, some_features=some_features)


LIVE_GRANT = "voided_at IS NULL"
"""What makes a grant live (whatever the time: its balance over time is the burn-down's), as a condition."""


def live_grants_sql(dialect: Dialect, *, some_features: bool) -> str:
    """The text of ``live_grants``' statement (``:tenant_id``, and ``:features`` when ``some_features``)."""
    where = f"AND feature_key {dialect.in_list('features')}" if some_features else ""
    return f"""
        SELECT feature_key, grant_id, amount, priority, effective_at, expires_at, created_at
        FROM credit_grant WHERE tenant_id = :tenant_id AND {LIVE_GRANT} {where}
        """  # noqa: S608 - no input in the text


def grant_rows(statement: TextClause, dialect: Dialect, *, some_features: bool) -> TextualSelect:
    """``statement`` (``live_grants_sql``, or more rows of the same columns) with its parameters and its columns
    typed: SQLite hands instants back as text, DateTimeUTC turns them into datetimes."""
    statement = statement.bindparams(bindparam("tenant_id", type_=Uuid()))
    if some_features:
        statement = statement.bindparams(bindparam("features", expanding=dialect.expands_lists))
    return statement.columns(
        column("feature_key", String()),
        column("grant_id", String()),
        column("amount", BigInteger()),
        column("priority", Integer()),
        column("effective_at", DateTimeUTC()),
        column("expires_at", DateTimeUTC()),
        column("created_at", DateTimeUTC()),
    )


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
