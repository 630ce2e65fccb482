from enum import StrEnum


class PeriodState(StrEnum):
    CLOSED = "closed"
    GRACE = "grace"
    OPEN = "open"

    def __str__(self) -> str:
        return str(self.value)
