from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.enforcement import Enforcement
from ..models.limit_period import LimitPeriod
from ..types import UNSET, Unset

T = TypeVar("T", bound="Limit")


@_attrs_define
class Limit:
    """
    Attributes:
        feature_key (str): Lower-case identifier of a metered feature.
        limit (int):
        enforcement (Enforcement | Unset): What a limit does: ``none`` only reports, ``reject`` refuses a batch that
            would go over it (409).
        notify_at_percent (list[int] | Unset): Thresholds (percent of the limit, 1 to 1000, unique) for usage alerts.
        notify_credits_below (int | None | Unset): A `credits.low` webhook message when the tenant's `credits_remaining`
            of the feature falls below this.
        period (LimitPeriod | Unset): The calendar period a limit applies to, in the tenant's time zone.
    """

    feature_key: str
    limit: int
    enforcement: Enforcement | Unset = UNSET
    notify_at_percent: list[int] | Unset = UNSET
    notify_credits_below: int | None | Unset = UNSET
    period: LimitPeriod | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        feature_key = self.feature_key

        limit = self.limit

        enforcement: str | Unset = UNSET
        if not isinstance(self.enforcement, Unset):
            enforcement = self.enforcement.value

        notify_at_percent: list[int] | Unset = UNSET
        if not isinstance(self.notify_at_percent, Unset):
            notify_at_percent = self.notify_at_percent

        notify_credits_below: int | None | Unset
        if isinstance(self.notify_credits_below, Unset):
            notify_credits_below = UNSET
        else:
            notify_credits_below = self.notify_credits_below

        period: str | Unset = UNSET
        if not isinstance(self.period, Unset):
            period = self.period.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "feature_key": feature_key,
                "limit": limit,
            }
        )
        if enforcement is not UNSET:
            field_dict["enforcement"] = enforcement
        if notify_at_percent is not UNSET:
            field_dict["notify_at_percent"] = notify_at_percent
        if notify_credits_below is not UNSET:
            field_dict["notify_credits_below"] = notify_credits_below
        if period is not UNSET:
            field_dict["period"] = period

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        feature_key = d.pop("feature_key")

        limit = d.pop("limit")

        _enforcement = d.pop("enforcement", UNSET)
        enforcement: Enforcement | Unset
        if isinstance(_enforcement, Unset):
            enforcement = UNSET
        else:
            enforcement = Enforcement(_enforcement)

        notify_at_percent = cast(list[int], d.pop("notify_at_percent", UNSET))

        def _parse_notify_credits_below(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        notify_credits_below = _parse_notify_credits_below(d.pop("notify_credits_below", UNSET))

        _period = d.pop("period", UNSET)
        period: LimitPeriod | Unset
        if isinstance(_period, Unset):
            period = UNSET
        else:
            period = LimitPeriod(_period)

        limit = cls(
            feature_key=feature_key,
            limit=limit,
            enforcement=enforcement,
            notify_at_percent=notify_at_percent,
            notify_credits_below=notify_credits_below,
            period=period,
        )

        return limit
