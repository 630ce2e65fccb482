"""Tables. Every table holding tenant data has ``tenant_id`` first in its primary key and its unique
constraints, so the schema can be distributed by tenant (Citus) without changing a key."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, LargeBinary, MetaData, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tally.db.types import Dimensions, LatestKey

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class FeatureRecord(Base):
    """The feature catalog: shared by every tenant (a reference table when distributed)."""

    __tablename__ = "feature"

    feature_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit: Mapped[str] = mapped_column(String(64))
    aggregation: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    dimensions: Mapped[list[str]] = mapped_column(JSON)  # in declaration order
    unique_by: Mapped[str | None] = mapped_column(String(32))  # the counted dimension of a unique_count
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)  # a unique_count counted with sketches
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class UsageEventRecord(Base):
    """One recorded usage event. The primary key is what makes ingestion exactly-once."""

    __tablename__ = "usage_event"
    # Ranges of time for one tenant, all features at once (the ragged edges of a totals window).
    __table_args__ = (Index(None, "tenant_id", "timestamp"),)

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(64))  # checked by the service once per batch
    quantity: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[datetime] = mapped_column(DateTimeUTC)
    recorded_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    batch_index: Mapped[int] = mapped_column(Integer)
    latest_key: Mapped[str] = mapped_column(LatestKey)
    voided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    voided_by: Mapped[str | None] = mapped_column(String(255))
    void_reason: Mapped[str | None] = mapped_column(Text)
    dimensions: Mapped[dict[str, str] | None] = mapped_column(Dimensions)  # None: no dimensions


class UsageBucketRecord(Base):
    """Usage pre-aggregated per tenant, feature and UTC bucket of 15 minutes, one hour or one day
    (``grain_seconds``), written in the same transaction as the raw events (see ``tally.metering.buckets``)."""

    __tablename__ = "usage_bucket"

    # Key order serves the read: one index range per (tenant, grain, time span) holds every feature's rows.
    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    grain_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(DateTimeUTC, primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    event_count: Mapped[int] = mapped_column(BigInteger)
    max_quantity: Mapped[int] = mapped_column(BigInteger)
    min_quantity: Mapped[int] = mapped_column(BigInteger)
    latest_key: Mapped[str] = mapped_column(LatestKey)


class UsageDimensionBucketRecord(Base):
    """Usage of the features that declare dimensions, pre-aggregated like ``usage_bucket`` and further by
    each distinct set of dimension values (``{}`` for events without any): grouped and filtered totals add
    these rows up. Every event of such a feature has its row here, so a grouped total equals the plain one."""

    __tablename__ = "usage_dimension_bucket"

    # Feature before time: a grouped read is about named features, each one index range.
    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    grain_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(DateTimeUTC, primary_key=True)
    dimension_set: Mapped[dict[str, str]] = mapped_column(Dimensions, primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    event_count: Mapped[int] = mapped_column(BigInteger)
    max_quantity: Mapped[int] = mapped_column(BigInteger)
    min_quantity: Mapped[int] = mapped_column(BigInteger)
    latest_key: Mapped[str] = mapped_column(LatestKey)


class UsageSketchRecord(Base):
    """Distinct values of an ``approximate`` distinct count, as a mergeable sketch (``tally.metering.sketches``)
    per tenant, feature, UTC bucket (the grains of ``usage_bucket``) and set of the event's other dimension values
    (the counted one left out): a window's count is the estimate of the union of its sketches."""

    __tablename__ = "usage_sketch"

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    grain_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(DateTimeUTC, primary_key=True)
    dimension_set: Mapped[dict[str, str]] = mapped_column(Dimensions, primary_key=True)
    sketch: Mapped[bytes] = mapped_column(LargeBinary)


class PlanRecord(Base):
    """A plan and its limits: shared by every tenant, like the catalog (a reference table when distributed)."""

    __tablename__ = "plan"

    plan_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    limits: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # ``Limit`` structs as JSON, sorted by feature_key
    grace_period: Mapped[str | None] = mapped_column(String(16))  # ISO 8601 days and hours; None: never closes
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class TenantPlanRecord(Base):
    """The plan a tenant is on (at most one), the time zone of its periods and its per-feature overrides."""

    __tablename__ = "tenant_plan"

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    plan_key: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64))
    overrides: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # ``Limit`` structs as JSON
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    grace_period: Mapped[str | None] = mapped_column(String(16))  # wins over the plan's


class BillingPeriodRecord(Base):
    """A closed billing period (a calendar month in the tenant's zone) and its totals as recorded at the close. Its
    primary key is what makes a close exactly once."""

    __tablename__ = "billing_period"

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTimeUTC, primary_key=True)
    period_end: Mapped[datetime] = mapped_column(DateTimeUTC)
    closed_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    totals: Mapped[str] = mapped_column(Text)  # ``UsageTotal`` structs as JSON text, by feature_key


class RateLimitCounterRecord(Base):
    """The rate limits' counters, shared by every process: one row per (tenant, quota), the current window's
    number and the requests counted in it. Unlogged on PostgreSQL (a crash empties it: the windows start over)."""

    __tablename__ = "rate_limit_counter"

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    quota: Mapped[str] = mapped_column(String(16), primary_key=True)
    window_index: Mapped[int] = mapped_column(BigInteger)
    used: Mapped[int] = mapped_column(Integer)


class WebhookEndpointRecord(Base):
    """Where usage alerts are sent, with the secret that signs them (a platform's: every tenant's alerts, or one
    tenant's when ``tenant_id`` is set). After a rotation the previous secret signs too, until it expires."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    tenant_id: Mapped[UUID | None] = mapped_column(Uuid)
    previous_secret: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)


class UsageAlertRecord(Base):
    """A threshold crossing, written in the transaction of the usage that crossed it. Its primary key is what
    makes it exactly once per tenant, feature, period and threshold."""

    __tablename__ = "usage_alert"

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTimeUTC, primary_key=True)
    threshold_percent: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64))  # the deliveries' webhook-id: unique by construction
    payload: Mapped[str] = mapped_column(Text)  # the body as sent (and signed), byte for byte on every attempt
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class WebhookDeliveryRecord(Base):
    """The outbox: one message to one endpoint, its attempts, and when the next one is due."""

    __tablename__ = "webhook_delivery"
    # The worker's claim: due pending deliveries, oldest due first.
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    endpoint_id: Mapped[UUID] = mapped_column(Uuid, index=True)
    message_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)


class CreditGrantRecord(Base):
    """A credit grant: an amount of one feature, in its unit, on top of the plan's allowance. Never edited; a void
    keeps it with who, when and why. Its balance is computed from usage (``tally.metering.credits``), never stored."""

    __tablename__ = "credit_grant"
    __table_args__ = (Index(None, "tenant_id", "feature_key"),)

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    grant_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    priority: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    note: Mapped[str | None] = mapped_column(Text)
    notify_below: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    created_by: Mapped[str] = mapped_column(String(255))
    voided_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    voided_by: Mapped[str | None] = mapped_column(String(255))
    void_reason: Mapped[str | None] = mapped_column(Text)


class ReservationRecord(Base):
    """A hold of capacity: counts against limits and credits while ``state`` is ``held`` and it has not expired
    (expiry is not written: a hold past ``expires_at`` is expired by the clock). A commit records the usage as a
    usage event (``committed_event``) in the same transaction that ends the hold."""

    __tablename__ = "reservation"
    # The live holds of a feature: read by every hold and by batches under a rejecting limit.
    __table_args__ = (Index(None, "tenant_id", "feature_key", "state"),)

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    reservation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(BigInteger)
    expires_in_seconds: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # held, committed, released
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC)
    ended_at: Mapped[datetime | None] = mapped_column(DateTimeUTC)
    ended_before_commit: Mapped[str | None] = mapped_column(String(16))  # released or expired
    committed_event: Mapped[str | None] = mapped_column(String(255))
    committed_quantity: Mapped[int | None] = mapped_column(BigInteger)


class CreditAlertRecord(Base):
    """Whether a tenant's remaining credits of a feature were below a threshold (0: depleted) when last looked at:
    an alert is sent when it goes from not below to below, so exactly once per crossing."""

    __tablename__ = "credit_alert"

    tenant_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    feature_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    threshold: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    below: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC)
