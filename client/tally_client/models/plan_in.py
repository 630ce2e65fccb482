from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.limit import Limit


T = TypeVar("T", bound="PlanIn")


@_attrs_define
class PlanIn:
    """
    Attributes:
        name (str):
        grace_period (None | str | Unset): ISO 8601 duration in days and hours (`P3D`, `PT12H`, `P1DT6H`), at most 90
            days: how long after a billing period ends its usage may still arrive. Then the period closes.
        limits (list[Limit] | Unset): At most one limit per feature.
    """

    name: str
    grace_period: None | str | Unset = UNSET
    limits: list[Limit] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        grace_period: None | str | Unset
        if isinstance(self.grace_period, Unset):
            grace_period = UNSET
        else:
            grace_period = self.grace_period

        limits: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.limits, Unset):
            limits = []
            for limits_item_data in self.limits:
                limits_item = limits_item_data.to_dict()
                limits.append(limits_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if grace_period is not UNSET:
            field_dict["grace_period"] = grace_period
        if limits is not UNSET:
            field_dict["limits"] = limits

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.limit import Limit  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        def _parse_grace_period(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        grace_period = _parse_grace_period(d.pop("grace_period", UNSET))

        _limits = d.pop("limits", UNSET)
        limits: list[Limit] | Unset = UNSET
        if _limits is not UNSET:
            limits = []
            for limits_item_data in _limits:
                limits_item = Limit.from_dict(limits_item_data)

                limits.append(limits_item)

        plan_in = cls(
            name=name,
            grace_period=grace_period,
            limits=limits,
        )

        return plan_in
