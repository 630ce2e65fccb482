from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="PeriodCloseIn")


@_attrs_define
class PeriodCloseIn:
    """
    Attributes:
        period_end (datetime.datetime): Every period ending at or before this instant closes (it may not lie in the
            future).
    """

    period_end: datetime.datetime

    def to_dict(self) -> dict[str, Any]:
        if self.period_end.utcoffset() is None:
            raise ValueError(
                "period_end: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        period_end = self.period_end.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "period_end": period_end,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        period_end = datetime.datetime.fromisoformat(d.pop("period_end"))

        period_close_in = cls(
            period_end=period_end,
        )

        return period_close_in
