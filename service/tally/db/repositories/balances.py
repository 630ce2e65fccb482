"""What an entitlement check reads besides its totals: the tenant's live grants and live holds, in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import TextualSelect, bindparam, text

from tally.db import dialects
from tally.db.dialects import Dialect, Reads
from tally.db.repositories.grants import grant_rows, live_grants_sql
from tally.db.repositories.reservations import live_holds_sql


async def grants_and_holds(
    reads: Reads, tenant_id: UUID, feature_keys: Sequence[str] | None, now: datetime
) -> tuple[list[Any], dict[str, int]]:
    """The grants that are not voided (of ``feature_keys``, or of every feature), as rows of (feature_key,
    grant_id, amount, priority, effective_at, expires_at, created_at), and the live holds' quantities by feature
    (features without any left out): one round trip where ``live_grants`` and ``reserved_quantities`` take two."""
    dialect = dialects.of(reads)
    params: dict[str, Any] = {"tenant_id": tenant_id, "now": now}
    if feature_keys is not None:
        params["features"] = list(feature_keys)
    grants, held = [], {}
    for row in await dialect.fetch_rows(reads, _statement(dialect, some_features=feature_keys is not None), params):
        if row[1] is None:  # a hold's sum: a grant always has its id
            held[row[0]] = int(row[2])
        else:
            grants.append(row)
    return grants, held


@lru_cache(maxsize=8)
def _statement(dialect: Dialect, *, some_features: bool) -> TextualSelect:
    # Text through the dialect's fetch_rows, like the totals: on PostgreSQL a prepared statement on asyncpg's own
    # connection, with none of SQLAlchemy's statement building and result wrapping on each check. The holds' sums
    # come as rows of the grants' shape, their grant_id null.
    holds = f"""
        UNION ALL
        SELECT feature_key, NULL, CAST(SUM(quantity) AS BIGINT), NULL, NULL, NULL, NULL
        {live_holds_sql(dialect, some_features=some_features)}"""
    statement = text(live_grants_sql(dialect, some_features=some_features) + holds)
    return grant_rows(statement.bindparams(bindparam("now", type_=DateTimeUTC())), dialect, some_features=some_features)
