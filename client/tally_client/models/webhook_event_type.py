from enum import StrEnum


class WebhookEventType(StrEnum):
    CREDITS_DEPLETED = "credits.depleted"
    CREDITS_LOW = "credits.low"
    USAGE_THRESHOLD_CROSSED = "usage.threshold_crossed"

    def __str__(self) -> str:
        return str(self.value)
