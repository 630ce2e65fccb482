from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.limit import Limit


T = TypeVar("T", bound="PlanAssignment")


@_attrs_define
class PlanAssignment:
    """
    Attributes:
        overrides (list[Limit]):
        plan_key (str):
        tenant_id (UUID):
        timezone (str):
        grace_period (None | str | Unset):
    """

    overrides: list[Limit]
    plan_key: str
    tenant_id: UUID
    timezone: str
    grace_period: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        overrides = []
        for overrides_item_data in self.overrides:
            overrides_item = overrides_item_data.to_dict()
            overrides.append(overrides_item)

        plan_key = self.plan_key

        tenant_id = str(self.tenant_id)

        timezone = self.timezone

        grace_period: None | str | Unset
        if isinstance(self.grace_period, Unset):
            grace_period = UNSET
        else:
            grace_period = self.grace_period

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "overrides": overrides,
                "plan_key": plan_key,
                "tenant_id": tenant_id,
                "timezone": timezone,
            }
        )
        if grace_period is not UNSET:
            field_dict["grace_period"] = grace_period

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.limit import Limit  # noqa: PLC0415

        d = dict(src_dict)
        overrides = []
        _overrides = d.pop("overrides")
        for overrides_item_data in _overrides:
            overrides_item = Limit.from_dict(overrides_item_data)

            overrides.append(overrides_item)

        plan_key = d.pop("plan_key")

        tenant_id = UUID(d.pop("tenant_id"))

        timezone = d.pop("timezone")

        def _parse_grace_period(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        grace_period = _parse_grace_period(d.pop("grace_period", UNSET))

        plan_assignment = cls(
            overrides=overrides,
            plan_key=plan_key,
            tenant_id=tenant_id,
            timezone=timezone,
            grace_period=grace_period,
        )

        plan_assignment.additional_properties = d
        return plan_assignment

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
