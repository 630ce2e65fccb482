from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.usage_event_dimensions import UsageEventDimensions


T = TypeVar("T", bound="UsageEvent")


@_attrs_define
class UsageEvent:
    """
    Attributes:
        dimensions (UsageEventDimensions):
        feature_key (str):
        idempotency_key (str):
        quantity (int):
        recorded_at (datetime.datetime):
        timestamp (datetime.datetime):
        voided (bool):
        void_reason (None | str | Unset):
        voided_at (datetime.datetime | None | Unset):
        voided_by (None | str | Unset):
    """

    dimensions: UsageEventDimensions
    feature_key: str
    idempotency_key: str
    quantity: int
    recorded_at: datetime.datetime
    timestamp: datetime.datetime
    voided: bool
    void_reason: None | str | Unset = UNSET
    voided_at: datetime.datetime | None | Unset = UNSET
    voided_by: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        dimensions = self.dimensions.to_dict()

        feature_key = self.feature_key

        idempotency_key = self.idempotency_key

        quantity = self.quantity

        if self.recorded_at.utcoffset() is None:
            raise ValueError(
                "recorded_at: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        recorded_at = self.recorded_at.isoformat()

        if self.timestamp.utcoffset() is None:
            raise ValueError(
                "timestamp: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        timestamp = self.timestamp.isoformat()

        voided = self.voided

        void_reason: None | str | Unset
        if isinstance(self.void_reason, Unset):
            void_reason = UNSET
        else:
            void_reason = self.void_reason

        voided_at: None | str | Unset
        if isinstance(self.voided_at, Unset):
            voided_at = UNSET
        elif isinstance(self.voided_at, datetime.datetime):
            if self.voided_at.utcoffset() is None:
                raise ValueError(
                    "voided_at: a datetime without a time zone is refused (Tally would have to guess it); "
                    "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                    "for the machine's local time"
                )

            voided_at = self.voided_at.isoformat()
        else:
            voided_at = self.voided_at

        voided_by: None | str | Unset
        if isinstance(self.voided_by, Unset):
            voided_by = UNSET
        else:
            voided_by = self.voided_by

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "dimensions": dimensions,
                "feature_key": feature_key,
                "idempotency_key": idempotency_key,
                "quantity": quantity,
                "recorded_at": recorded_at,
                "timestamp": timestamp,
                "voided": voided,
            }
        )
        if void_reason is not UNSET:
            field_dict["void_reason"] = void_reason
        if voided_at is not UNSET:
            field_dict["voided_at"] = voided_at
        if voided_by is not UNSET:
            field_dict["voided_by"] = voided_by

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.usage_event_dimensions import UsageEventDimensions  # noqa: PLC0415

        d = dict(src_dict)
        dimensions = UsageEventDimensions.from_dict(d.pop("dimensions"))

        feature_key = d.pop("feature_key")

        idempotency_key = d.pop("idempotency_key")

        quantity = d.pop("quantity")

        recorded_at = datetime.datetime.fromisoformat(d.pop("recorded_at"))

        timestamp = datetime.datetime.fromisoformat(d.pop("timestamp"))

        voided = d.pop("voided")

        def _parse_void_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        void_reason = _parse_void_reason(d.pop("void_reason", UNSET))

        def _parse_voided_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                voided_at_type_0 = datetime.datetime.fromisoformat(data)

                return voided_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        voided_at = _parse_voided_at(d.pop("voided_at", UNSET))

        def _parse_voided_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        voided_by = _parse_voided_by(d.pop("voided_by", UNSET))

        usage_event = cls(
            dimensions=dimensions,
            feature_key=feature_key,
            idempotency_key=idempotency_key,
            quantity=quantity,
            recorded_at=recorded_at,
            timestamp=timestamp,
            voided=voided,
            void_reason=void_reason,
            voided_at=voided_at,
            voided_by=voided_by,
        )

        usage_event.additional_properties = d
        return usage_event

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
