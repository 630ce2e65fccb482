"""Contains all the data models used in inputs/outputs"""

from .aggregation import Aggregation
from .billing_period import BillingPeriod
from .billing_period_page import BillingPeriodPage
from .commit_in import CommitIn
from .commit_in_dimensions import CommitInDimensions
from .delivery_attempt import DeliveryAttempt
from .delivery_status import DeliveryStatus
from .enforcement import Enforcement
from .entitlement import Entitlement
from .feature import Feature
from .feature_in import FeatureIn
from .field_error import FieldError
from .grant import Grant
from .grant_in import GrantIn
from .grant_state import GrantState
from .grant_void import GrantVoid
from .health import Health
from .ingest_result import IngestResult
from .limit import Limit
from .limit_period import LimitPeriod
from .period_close_in import PeriodCloseIn
from .period_state import PeriodState
from .plan import Plan
from .plan_assignment import PlanAssignment
from .plan_assignment_in import PlanAssignmentIn
from .plan_in import PlanIn
from .problem import Problem
from .reservation import Reservation
from .reservation_in import ReservationIn
from .reservation_page import ReservationPage
from .reservation_state import ReservationState
from .usage_batch import UsageBatch
from .usage_event import UsageEvent
from .usage_event_dimensions import UsageEventDimensions
from .usage_event_in import UsageEventIn
from .usage_event_in_dimensions import UsageEventInDimensions
from .usage_event_page import UsageEventPage
from .usage_total import UsageTotal
from .usage_total_dimensions import UsageTotalDimensions
from .using import Using
from .void_in import VoidIn
from .webhook_delivery import WebhookDelivery
from .webhook_delivery_page import WebhookDeliveryPage
from .webhook_endpoint import WebhookEndpoint
from .webhook_endpoint_created import WebhookEndpointCreated
from .webhook_endpoint_in import WebhookEndpointIn
from .webhook_event_type import WebhookEventType
from .webhook_secret_rotation import WebhookSecretRotation
from .webhook_secret_rotation_in import WebhookSecretRotationIn
from .window_size import WindowSize

__all__ = (
    "Aggregation",
    "BillingPeriod",
    "BillingPeriodPage",
    "CommitIn",
    "CommitInDimensions",
    "DeliveryAttempt",
    "DeliveryStatus",
    "Enforcement",
    "Entitlement",
    "Feature",
    "FeatureIn",
    "FieldError",
    "Grant",
    "GrantIn",
    "GrantState",
    "GrantVoid",
    "Health",
    "IngestResult",
    "Limit",
    "LimitPeriod",
    "PeriodCloseIn",
    "PeriodState",
    "Plan",
    "PlanAssignment",
    "PlanAssignmentIn",
    "PlanIn",
    "Problem",
    "Reservation",
    "ReservationIn",
    "ReservationPage",
    "ReservationState",
    "UsageBatch",
    "UsageEvent",
    "UsageEventDimensions",
    "UsageEventIn",
    "UsageEventInDimensions",
    "UsageEventPage",
    "UsageTotal",
    "UsageTotalDimensions",
    "Using",
    "VoidIn",
    "WebhookDelivery",
    "WebhookDeliveryPage",
    "WebhookEndpoint",
    "WebhookEndpointCreated",
    "WebhookEndpointIn",
    "WebhookEventType",
    "WebhookSecretRotation",
    "WebhookSecretRotationIn",
    "WindowSize",
)
