from enum import StrEnum


class WebhookEventType(StrEnum):
    CREDITS_DEPLETED = "credits.depleted"
    CREDITS_LOW = "credits.low"
    PERIOD_CLOSED = "period.closed"
    USAGE_THRESHOLD_CROSSED = "usage.threshold_crossed"

    def __str__(self) -> str:
        return str(self.value)
