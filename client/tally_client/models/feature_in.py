from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.aggregation import Aggregation
from ..types import UNSET, Unset

T = TypeVar("T", bound="FeatureIn")


@_attrs_define
class FeatureIn:
    """
    Attributes:
        unit (str):
        aggregation (Aggregation | Unset): How a feature's events combine into a total: ``sum`` of quantities, ``count``
            of events, ``max`` or
                ``min`` quantity, the quantity of the ``latest`` event by timestamp (ties: the later-recorded event), or
                ``unique_count``: the number of distinct values of the dimension ``unique_by`` (e.g. active users).
        approximate (bool | Unset): With `aggregation: unique_count`: count distinct values with mergeable sketches
            (HyperLogLog) instead of exactly, at a fixed cost per read whatever the number of values, within the error bound
            the API documentation states (only with `unique_count`, else 400). Cannot change once usage is recorded (409).
            Default: False.
        description (None | str | Unset):
        dimensions (list[str] | Unset): Keys events of this feature may carry, to group and filter totals by. Keys can
            be added later; once usage is recorded for the feature, none can be removed (409).
        unique_by (None | str | Unset): With `aggregation: unique_count`: the dimension whose distinct values are
            counted (one of `dimensions`; events without it do not count). Cannot change once usage is recorded (409).
    """

    unit: str
    aggregation: Aggregation | Unset = UNSET
    approximate: bool | Unset = False
    description: None | str | Unset = UNSET
    dimensions: list[str] | Unset = UNSET
    unique_by: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        unit = self.unit

        aggregation: str | Unset = UNSET
        if not isinstance(self.aggregation, Unset):
            aggregation = self.aggregation.value

        approximate = self.approximate

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        dimensions: list[str] | Unset = UNSET
        if not isinstance(self.dimensions, Unset):
            dimensions = self.dimensions

        unique_by: None | str | Unset
        if isinstance(self.unique_by, Unset):
            unique_by = UNSET
        else:
            unique_by = self.unique_by

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "unit": unit,
            }
        )
        if aggregation is not UNSET:
            field_dict["aggregation"] = aggregation
        if approximate is not UNSET:
            field_dict["approximate"] = approximate
        if description is not UNSET:
            field_dict["description"] = description
        if dimensions is not UNSET:
            field_dict["dimensions"] = dimensions
        if unique_by is not UNSET:
            field_dict["unique_by"] = unique_by

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        unit = d.pop("unit")

        _aggregation = d.pop("aggregation", UNSET)
        aggregation: Aggregation | Unset
        if isinstance(_aggregation, Unset):
            aggregation = UNSET
        else:
            aggregation = Aggregation(_aggregation)

        approximate = d.pop("approximate", UNSET)

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        dimensions = cast(list[str], d.pop("dimensions", UNSET))

        def _parse_unique_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        unique_by = _parse_unique_by(d.pop("unique_by", UNSET))

        feature_in = cls(
            unit=unit,
            aggregation=aggregation,
            approximate=approximate,
            description=description,
            dimensions=dimensions,
            unique_by=unique_by,
        )

        return feature_in
