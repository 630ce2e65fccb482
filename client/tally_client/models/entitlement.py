from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.enforcement import Enforcement
from ..models.limit_period import LimitPeriod
from ..models.using import Using
from ..types import UNSET, Unset

T = TypeVar("T", bound="Entitlement")


@_attrs_define
class Entitlement:
    """
    Attributes:
        enforcement (Enforcement): What a limit does: ``none`` only reports, ``reject`` refuses a batch that would go
            over it (409).
        feature_key (str): Lower-case identifier of a metered feature.
        limit (int | None):
        over_limit (bool):
        period (LimitPeriod): The calendar period a limit applies to, in the tenant's time zone.
        period_end (datetime.datetime):
        period_start (datetime.datetime):
        remaining (int | None):
        unit (str):
        used (int):
        credits_remaining (int | Unset): What the grants active now have left, together. Default: 0.
        granted (int | Unset): The amounts of the grants active now, together. Default: 0.
        reserved (int | Unset): Held by live reservations; `remaining` subtracts it. Default: 0.
        using (Using | Unset): What the feature's next unit of usage draws from: the period's ``allowance`` (or no limit
            at all), the
                tenant's ``credits``, or nothing (``exhausted``: allowance and credits are used up).
        using_grant (None | str | Unset): The grant usage burns now (`using: credits`), first in burn-down order.
    """

    enforcement: Enforcement
    feature_key: str
    limit: int | None
    over_limit: bool
    period: LimitPeriod
    period_end: datetime.datetime
    period_start: datetime.datetime
    remaining: int | None
    unit: str
    used: int
    credits_remaining: int | Unset = 0
    granted: int | Unset = 0
    reserved: int | Unset = 0
    using: Using | Unset = UNSET
    using_grant: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        enforcement = self.enforcement.value

        feature_key = self.feature_key

        limit: int | None
        limit = self.limit

        over_limit = self.over_limit

        period = self.period.value

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

        remaining: int | None
        remaining = self.remaining

        unit = self.unit

        used = self.used

        credits_remaining = self.credits_remaining

        granted = self.granted

        reserved = self.reserved

        using: str | Unset = UNSET
        if not isinstance(self.using, Unset):
            using = self.using.value

        using_grant: None | str | Unset
        if isinstance(self.using_grant, Unset):
            using_grant = UNSET
        else:
            using_grant = self.using_grant

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "enforcement": enforcement,
                "feature_key": feature_key,
                "limit": limit,
                "over_limit": over_limit,
                "period": period,
                "period_end": period_end,
                "period_start": period_start,
                "remaining": remaining,
                "unit": unit,
                "used": used,
            }
        )
        if credits_remaining is not UNSET:
            field_dict["credits_remaining"] = credits_remaining
        if granted is not UNSET:
            field_dict["granted"] = granted
        if reserved is not UNSET:
            field_dict["reserved"] = reserved
        if using is not UNSET:
            field_dict["using"] = using
        if using_grant is not UNSET:
            field_dict["using_grant"] = using_grant

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        enforcement = Enforcement(d.pop("enforcement"))

        feature_key = d.pop("feature_key")

        def _parse_limit(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        limit = _parse_limit(d.pop("limit"))

        over_limit = d.pop("over_limit")

        period = LimitPeriod(d.pop("period"))

        period_end = datetime.datetime.fromisoformat(d.pop("period_end"))

        period_start = datetime.datetime.fromisoformat(d.pop("period_start"))

        def _parse_remaining(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        remaining = _parse_remaining(d.pop("remaining"))

        unit = d.pop("unit")

        used = d.pop("used")

        credits_remaining = d.pop("credits_remaining", UNSET)

        granted = d.pop("granted", UNSET)

        reserved = d.pop("reserved", UNSET)

        _using = d.pop("using", UNSET)
        using: Using | Unset
        if isinstance(_using, Unset):
            using = UNSET
        else:
            using = Using(_using)

        def _parse_using_grant(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        using_grant = _parse_using_grant(d.pop("using_grant", UNSET))

        entitlement = cls(
            enforcement=enforcement,
            feature_key=feature_key,
            limit=limit,
            over_limit=over_limit,
            period=period,
            period_end=period_end,
            period_start=period_start,
            remaining=remaining,
            unit=unit,
            used=used,
            credits_remaining=credits_remaining,
            granted=granted,
            reserved=reserved,
            using=using,
            using_grant=using_grant,
        )

        entitlement.additional_properties = d
        return entitlement

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
