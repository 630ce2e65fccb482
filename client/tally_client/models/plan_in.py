from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

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
        limits (list[Limit] | Unset): At most one limit per feature.
    """

    name: str
    limits: list[Limit] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

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
        if limits is not UNSET:
            field_dict["limits"] = limits

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.limit import Limit  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        _limits = d.pop("limits", UNSET)
        limits: list[Limit] | Unset = UNSET
        if _limits is not UNSET:
            limits = []
            for limits_item_data in _limits:
                limits_item = Limit.from_dict(limits_item_data)

                limits.append(limits_item)

        plan_in = cls(
            name=name,
            limits=limits,
        )

        return plan_in
