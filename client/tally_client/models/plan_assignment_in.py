from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.limit import Limit


T = TypeVar("T", bound="PlanAssignmentIn")


@_attrs_define
class PlanAssignmentIn:
    """
    Attributes:
        plan_key (str): Lower-case identifier of a plan.
        grace_period (None | str | Unset): Replaces the plan's grace period.
        overrides (list[Limit] | Unset): Limits that replace the plan's for their features.
        timezone (str | Unset): IANA time zone whose local days and months the limits' periods follow. Default: 'UTC'.
    """

    plan_key: str
    grace_period: None | str | Unset = UNSET
    overrides: list[Limit] | Unset = UNSET
    timezone: str | Unset = "UTC"

    def to_dict(self) -> dict[str, Any]:
        plan_key = self.plan_key

        grace_period: None | str | Unset
        if isinstance(self.grace_period, Unset):
            grace_period = UNSET
        else:
            grace_period = self.grace_period

        overrides: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.overrides, Unset):
            overrides = []
            for overrides_item_data in self.overrides:
                overrides_item = overrides_item_data.to_dict()
                overrides.append(overrides_item)

        timezone = self.timezone

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "plan_key": plan_key,
            }
        )
        if grace_period is not UNSET:
            field_dict["grace_period"] = grace_period
        if overrides is not UNSET:
            field_dict["overrides"] = overrides
        if timezone is not UNSET:
            field_dict["timezone"] = timezone

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.limit import Limit  # noqa: PLC0415

        d = dict(src_dict)
        plan_key = d.pop("plan_key")

        def _parse_grace_period(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        grace_period = _parse_grace_period(d.pop("grace_period", UNSET))

        _overrides = d.pop("overrides", UNSET)
        overrides: list[Limit] | Unset = UNSET
        if _overrides is not UNSET:
            overrides = []
            for overrides_item_data in _overrides:
                overrides_item = Limit.from_dict(overrides_item_data)

                overrides.append(overrides_item)

        timezone = d.pop("timezone", UNSET)

        plan_assignment_in = cls(
            plan_key=plan_key,
            grace_period=grace_period,
            overrides=overrides,
            timezone=timezone,
        )

        return plan_assignment_in
