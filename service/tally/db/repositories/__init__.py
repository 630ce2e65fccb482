"""Repositories: every SQL statement of the service lives in one of these (and, for what differs between
databases, in ``tally.db.dialects``). Each takes the request's session; services never see SQL."""

from tally.db.repositories.buckets import BucketRepository
from tally.db.repositories.credit_alerts import CreditAlertRepository
from tally.db.repositories.distinct import DistinctRepository
from tally.db.repositories.events import UsageEventRepository
from tally.db.repositories.features import FeatureRepository
from tally.db.repositories.grants import GrantRepository, live_grants
from tally.db.repositories.periods import PeriodRepository, period_terms
from tally.db.repositories.plans import PlanRepository, TenantPlanRepository, tenant_terms
from tally.db.repositories.rate_limits import RateLimitCounterRepository
from tally.db.repositories.reservations import ReservationRepository, reserved_quantities
from tally.db.repositories.sketches import SketchRepository
from tally.db.repositories.totals import TotalsRepository
from tally.db.repositories.webhooks import AlertRepository, DeliveryRepository, WebhookEndpointRepository

__all__ = [
    "AlertRepository",
    "BucketRepository",
    "CreditAlertRepository",
    "DeliveryRepository",
    "DistinctRepository",
    "FeatureRepository",
    "GrantRepository",
    "PeriodRepository",
    "PlanRepository",
    "RateLimitCounterRepository",
    "ReservationRepository",
    "SketchRepository",
    "TenantPlanRepository",
    "TotalsRepository",
    "UsageEventRepository",
    "WebhookEndpointRepository",
    "live_grants",
    "period_terms",
    "reserved_quantities",
    "tenant_terms",
]
