from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.aggregation import Aggregation
from ..types import UNSET, Unset

T = TypeVar("T", bound="Feature")


@_attrs_define
class Feature:
    """
    Attributes:
        aggregation (Aggregation): How a feature's events combine into a total: ``sum`` of quantities, ``count`` of
            events, ``max`` or
                ``min`` quantity, the quantity of the ``latest`` event by timestamp (ties: the later-recorded event), or
                ``unique_count``: the number of distinct values of the dimension ``unique_by`` (e.g. active users).
        dimensions (list[str]):
        feature_key (str): Lower-case identifier of a metered feature.
        unit (str):
        approximate (bool | Unset):  Default: False.
        description (None | str | Unset):
        unique_by (None | str | Unset):
    """

    aggregation: Aggregation
    dimensions: list[str]
    feature_key: str
    unit: str
    approximate: bool | Unset = False
    description: None | str | Unset = UNSET
    unique_by: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        aggregation = self.aggregation.value

        dimensions = self.dimensions

        feature_key = self.feature_key

        unit = self.unit

        approximate = self.approximate

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        unique_by: None | str | Unset
        if isinstance(self.unique_by, Unset):
            unique_by = UNSET
        else:
            unique_by = self.unique_by

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "aggregation": aggregation,
                "dimensions": dimensions,
                "feature_key": feature_key,
                "unit": unit,
            }
        )
        if approximate is not UNSET:
            field_dict["approximate"] = approximate
        if description is not UNSET:
            field_dict["description"] = description
        if unique_by is not UNSET:
            field_dict["unique_by"] = unique_by

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        aggregation = Aggregation(d.pop("aggregation"))

        dimensions = cast(list[str], d.pop("dimensions"))

        feature_key = d.pop("feature_key")

        unit = d.pop("unit")

        approximate = d.pop("approximate", UNSET)

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_unique_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        unique_by = _parse_unique_by(d.pop("unique_by", UNSET))

        feature = cls(
            aggregation=aggregation,
            dimensions=dimensions,
            feature_key=feature_key,
            unit=unit,
            approximate=approximate,
            description=description,
            unique_by=unique_by,
        )

        feature.additional_properties = d
        return feature

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
