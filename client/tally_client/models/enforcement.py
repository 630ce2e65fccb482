from enum import StrEnum


class Enforcement(StrEnum):
    NONE = "none"
    REJECT = "reject"

    def __str__(self) -> str:
        return str(self.value)
