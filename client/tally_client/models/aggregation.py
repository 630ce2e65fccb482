from enum import StrEnum


class Aggregation(StrEnum):
    SUM = "sum"

    def __str__(self) -> str:
        return str(self.value)
