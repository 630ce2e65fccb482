from enum import StrEnum


class GrantState(StrEnum):
    ACTIVE = "active"
    DEPLETED = "depleted"
    EXPIRED = "expired"
    SCHEDULED = "scheduled"
    VOIDED = "voided"

    def __str__(self) -> str:
        return str(self.value)
