from enum import StrEnum


class Using(StrEnum):
    ALLOWANCE = "allowance"
    CREDITS = "credits"
    EXHAUSTED = "exhausted"

    def __str__(self) -> str:
        return str(self.value)
