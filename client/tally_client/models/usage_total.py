from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.usage_total_dimensions import UsageTotalDimensions


T = TypeVar("T", bound="UsageTotal")


@_attrs_define
class UsageTotal:
    """
    Attributes:
        dimensions (UsageTotalDimensions): The `group_by` keys and their values in this row (null: events without the
            key); empty without `group_by`.
        feature_key (str): Lower-case identifier of a metered feature.
        quantity (int):
        unit (str):
        window_end (datetime.datetime):
        window_start (datetime.datetime):
        approximate (bool | Unset): True when `quantity` is an estimate: a distinct count of a feature declared
            `approximate` (mergeable sketches, within the documented error bound). Default: False.
        final (bool | Unset): True when the window lies wholly inside closed billing periods: `quantity` is what was
            recorded at the close and never changes. Default: False.
    """

    dimensions: UsageTotalDimensions
    feature_key: str
    quantity: int
    unit: str
    window_end: datetime.datetime
    window_start: datetime.datetime
    approximate: bool | Unset = False
    final: bool | Unset = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        dimensions = self.dimensions.to_dict()

        feature_key = self.feature_key

        quantity = self.quantity

        unit = self.unit

        if self.window_end.utcoffset() is None:
            raise ValueError(
                "window_end: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        window_end = self.window_end.isoformat()

        if self.window_start.utcoffset() is None:
            raise ValueError(
                "window_start: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        window_start = self.window_start.isoformat()

        approximate = self.approximate

        final = self.final

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "dimensions": dimensions,
                "feature_key": feature_key,
                "quantity": quantity,
                "unit": unit,
                "window_end": window_end,
                "window_start": window_start,
            }
        )
        if approximate is not UNSET:
            field_dict["approximate"] = approximate
        if final is not UNSET:
            field_dict["final"] = final

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.usage_total_dimensions import UsageTotalDimensions  # noqa: PLC0415

        d = dict(src_dict)
        dimensions = UsageTotalDimensions.from_dict(d.pop("dimensions"))

        feature_key = d.pop("feature_key")

        quantity = d.pop("quantity")

        unit = d.pop("unit")

        window_end = datetime.datetime.fromisoformat(d.pop("window_end"))

        window_start = datetime.datetime.fromisoformat(d.pop("window_start"))

        approximate = d.pop("approximate", UNSET)

        final = d.pop("final", UNSET)

        usage_total = cls(
            dimensions=dimensions,
            feature_key=feature_key,
            quantity=quantity,
            unit=unit,
            window_end=window_end,
            window_start=window_start,
            approximate=approximate,
            final=final,
        )

        usage_total.additional_properties = d
        return usage_total

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
