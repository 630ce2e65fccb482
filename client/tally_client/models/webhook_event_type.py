from enum import StrEnum


class WebhookEventType(StrEnum):
    USAGE_THRESHOLD_CROSSED = "usage.threshold_crossed"

    def __str__(self) -> str:
        return str(self.value)
