"""The generated client against a live server, as docs/api.md shows it: grant credits, then the LLM pattern (hold
``max_tokens``, call the model, commit the real count), a refused hold's machine-readable members, the entitlement."""

from __future__ import annotations

import uuid

import pytest

from tally.http.auth import Role
from tally_client.api.catalog import put_feature
from tally_client.api.grants import create_grant, list_grants
from tally_client.api.plans import get_entitlement, put_plan, put_tenant_plan
from tally_client.api.reservations import commit_reservation, create_reservation, list_reservations
from tally_client.models import (
    CommitIn,
    Enforcement,
    Entitlement,
    FeatureIn,
    Grant,
    GrantIn,
    Limit,
    PlanAssignmentIn,
    PlanIn,
    Problem,
    Reservation,
    ReservationIn,
    ReservationPage,
    ReservationState,
)
from tests.e2e.test_client import client_for


@pytest.mark.e2e
def test_hold_call_commit_through_the_generated_client(sqlite_server: str) -> None:
    tenant = uuid.uuid4()
    with client_for(sqlite_server, Role.PLATFORM) as platform:
        put_feature.sync("llm_tokens", client=platform, body=FeatureIn(unit="tokens"))
        limit = Limit(feature_key="llm_tokens", limit=5000, enforcement=Enforcement.REJECT)
        put_plan.sync("llm", client=platform, body=PlanIn(name="LLM", limits=[limit]))
        put_tenant_plan.sync(tenant, client=platform, body=PlanAssignmentIn(plan_key="llm"))
        granted = create_grant.sync_detailed(
            tenant, client=platform, body=GrantIn(grant_id="topup-1", feature_key="llm_tokens", amount=1000)
        )
        assert granted.status_code == 201
        assert isinstance(granted.parsed, Grant)

    with client_for(sqlite_server, Role.ADMIN, tenant) as admin:
        hold = create_reservation.sync_detailed(
            tenant, client=admin, body=ReservationIn(reservation_id="req-1", feature_key="llm_tokens", quantity=4096)
        )
        assert hold.status_code == 201
        assert isinstance(hold.parsed, Reservation)
        assert hold.parsed.state is ReservationState.HELD
        refused = create_reservation.sync_detailed(
            tenant, client=admin, body=ReservationIn(reservation_id="req-2", feature_key="llm_tokens", quantity=2000)
        )
        assert refused.status_code == 409
        assert isinstance(refused.parsed, Problem)
        members = refused.parsed.additional_properties
        assert (members["limit"], members["reserved"], members["credits_remaining"], members["remaining"]) == (
            5000,
            4096,
            1000,
            1904,
        )
        committed = commit_reservation.sync(
            tenant, "req-1", client=admin, body=CommitIn(quantity=1873, idempotency_key="req-1")
        )
        assert isinstance(committed, Reservation)
        assert (committed.state, committed.committed_event) == (ReservationState.COMMITTED, "req-1")
        entitlement = get_entitlement.sync(tenant, "llm_tokens", client=admin)
        assert isinstance(entitlement, Entitlement)
        assert (entitlement.used, entitlement.reserved, entitlement.remaining) == (1873, 0, 5000 - 1873 + 1000)
        page = list_reservations.sync(tenant, client=admin)
        assert isinstance(page, ReservationPage)
        assert [r.reservation_id for r in page.items] == ["req-1"]
        grants = list_grants.sync(tenant, client=admin)
        assert [(g.grant_id, g.used) for g in grants or []] == [("topup-1", 0)]  # the allowance covered it
