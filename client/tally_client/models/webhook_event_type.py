from enum import StrEnum


class WebhookEventType(StrEnum):
    PERIOD_CLOSED = "period.closed"
    USAGE_THRESHOLD_CROSSED = "usage.threshold_crossed"

    def __str__(self) -> str:
        return str(self.value)
