from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.period_state import PeriodState
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.usage_total import UsageTotal


T = TypeVar("T", bound="BillingPeriod")


@_attrs_define
class BillingPeriod:
    """
    Attributes:
        closed_at (datetime.datetime | None): The instant its totals were taken; null until closed.
        grace_ends_at (datetime.datetime | None): When the period closes by itself; null without a grace period.
        period_end (datetime.datetime):
        period_start (datetime.datetime):
        state (PeriodState): ``open``: usage may arrive (the period has not ended, or it has no grace period);
            ``grace``: it has ended and
                its grace has not passed; ``closed``: its totals are final.
        totals (list[UsageTotal] | None | Unset): Once closed: every feature's total over the period, as recorded at the
            close.
    """

    closed_at: datetime.datetime | None
    grace_ends_at: datetime.datetime | None
    period_end: datetime.datetime
    period_start: datetime.datetime
    state: PeriodState
    totals: list[UsageTotal] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        closed_at: None | str
        if isinstance(self.closed_at, datetime.datetime):
            if self.closed_at.utcoffset() is None:
                raise ValueError(
                    "closed_at: a datetime without a time zone is refused (Tally would have to guess it); "
                    "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                    "for the machine's local time"
                )

            closed_at = self.closed_at.isoformat()
        else:
            closed_at = self.closed_at

        grace_ends_at: None | str
        if isinstance(self.grace_ends_at, datetime.datetime):
            if self.grace_ends_at.utcoffset() is None:
                raise ValueError(
                    "grace_ends_at: a datetime without a time zone is refused (Tally would have to guess it); "
                    "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                    "for the machine's local time"
                )

            grace_ends_at = self.grace_ends_at.isoformat()
        else:
            grace_ends_at = self.grace_ends_at

        if self.period_end.utcoffset() is None:
            raise ValueError(
                "period_end: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        period_end = self.period_end.isoformat()

        if self.period_start.utcoffset() is None:
            raise ValueError(
                "period_start: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        period_start = self.period_start.isoformat()

        state = self.state.value

        totals: list[dict[str, Any]] | None | Unset
        if isinstance(self.totals, Unset):
            totals = UNSET
        elif isinstance(self.totals, list):
            totals = []
            for totals_type_0_item_data in self.totals:
                totals_type_0_item = totals_type_0_item_data.to_dict()
                totals.append(totals_type_0_item)

        else:
            totals = self.totals

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "closed_at": closed_at,
                "grace_ends_at": grace_ends_at,
                "period_end": period_end,
                "period_start": period_start,
                "state": state,
            }
        )
        if totals is not UNSET:
            field_dict["totals"] = totals

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.usage_total import UsageTotal  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_closed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                closed_at_type_0 = datetime.datetime.fromisoformat(data)

                return closed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        closed_at = _parse_closed_at(d.pop("closed_at"))

        def _parse_grace_ends_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                grace_ends_at_type_0 = datetime.datetime.fromisoformat(data)

                return grace_ends_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        grace_ends_at = _parse_grace_ends_at(d.pop("grace_ends_at"))

        period_end = datetime.datetime.fromisoformat(d.pop("period_end"))

        period_start = datetime.datetime.fromisoformat(d.pop("period_start"))

        state = PeriodState(d.pop("state"))

        def _parse_totals(data: object) -> list[UsageTotal] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                totals_type_0 = []
                _totals_type_0 = data
                for totals_type_0_item_data in _totals_type_0:
                    totals_type_0_item = UsageTotal.from_dict(totals_type_0_item_data)

                    totals_type_0.append(totals_type_0_item)

                return totals_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[UsageTotal] | None | Unset, data)

        totals = _parse_totals(d.pop("totals", UNSET))

        billing_period = cls(
            closed_at=closed_at,
            grace_ends_at=grace_ends_at,
            period_end=period_end,
            period_start=period_start,
            state=state,
            totals=totals,
        )

        billing_period.additional_properties = d
        return billing_period

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
