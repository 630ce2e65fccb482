"""Reservations: holds, their live sums, their ends."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from uuid import UUID

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import TextClause, Uuid, and_, bindparam, or_, select, text

from tally.db import dialects
from tally.db.dialects import Dialect, Reads
from tally.db.models import ReservationRecord

HELD = "held"


async def reserved_quantities(
    reads: Reads, tenant_id: UUID, feature_keys: Iterable[str], now: datetime
) -> dict[str, int]:
    """The live holds' quantities by feature (features without any are left out). A function too: the entitlement
    check reads it on its connection, without a session."""
    dialect = dialects.of(reads)
    params = {"tenant_id": tenant_id, "features": list(feature_keys), "now": now}
    return {key: int(total) for key, total in await dialect.fetch_rows(reads, _held(dialect), params)}


@lru_cache(maxsize=4)
def _held(dialect: Dialect) -> TextClause:
    # Text through the dialect's fetch_rows, as the grants (see ``live_grants``): no statement built per check.
    return text(f"SELECT feature_key, SUM(quantity) {live_holds_sql(dialect, some_features=True)}").bindparams(
        bindparam("tenant_id", type_=Uuid()),
        bindparam("features", expanding=dialect.expands_lists),
        bindparam("now", type_=DateTimeUTC()),
    )


LIVE_HOLD = f"state = '{HELD}' AND expires_at > :now"
"""What makes a reservation a live hold at ``:now``, as a condition on the reservation table."""


def live_holds_sql(dialect: Dialect, *, some_features: bool) -> str:
    """What a live hold is: the FROM, WHERE and GROUP BY of a statement that sums the live holds by feature
    (``:tenant_id``, ``:now``, and ``:features`` when ``some_features``). Its SELECT is the caller's."""
    features = f"AND feature_key {dialect.in_list('features')}" if some_features else ""
    return f"""
        FROM reservation WHERE tenant_id = :tenant_id {features} AND {LIVE_HOLD}
        GROUP BY feature_key
        """


class ReservationRepository(SQLAlchemyAsyncRepository[ReservationRecord]):
    model_type = ReservationRecord
    id_attribute = "reservation_id"

    async def reservation(
        self, tenant_id: UUID, reservation_id: str, *, for_update: bool = False
    ) -> ReservationRecord | None:
        r = ReservationRecord
        stmt = select(r).where(r.tenant_id == tenant_id, r.reservation_id == reservation_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).one_or_none()

    async def add_reservation(self, record: ReservationRecord) -> None:
        self.session.add(record)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()

    async def reserved(self, tenant_id: UUID, feature_keys: Iterable[str], now: datetime) -> dict[str, int]:
        return await reserved_quantities(self.session, tenant_id, feature_keys, now)

    async def page(
        self, tenant_id: UUID, state: str | None, now: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[ReservationRecord]:
        """Newest first (then by id, descending), ``limit`` rows after the cursor's row; ``state`` as answered
        (``held`` means live, ``expired`` held past its lifetime)."""
        r = ReservationRecord
        stmt = select(r).where(r.tenant_id == tenant_id)
        if state == HELD:
            stmt = stmt.where(r.state == HELD, r.expires_at > now)
        elif state == "expired":
            stmt = stmt.where(r.state == HELD, r.expires_at <= now)
        elif state is not None:
            stmt = stmt.where(r.state == state)
        if after is not None:
            created, key = after
            stmt = stmt.where(or_(r.created_at < created, and_(r.created_at == created, r.reservation_id < key)))
        stmt = stmt.order_by(r.created_at.desc(), r.reservation_id.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())
