from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.commit_in_dimensions import CommitInDimensions


T = TypeVar("T", bound="CommitIn")


@_attrs_define
class CommitIn:
    """
    Attributes:
        idempotency_key (str): Unique per tenant, forever: re-sending the same key never counts twice.
        quantity (int): Whole units used.
        dimensions (CommitInDimensions | Unset): Values of dimensions the feature declares, each 1 to 128 characters.
            Part of the event's content: re-sending its key with other dimensions is a 409.
        timestamp (datetime.datetime | None | Unset): When the usage happened; default now.
    """

    idempotency_key: str
    quantity: int
    dimensions: CommitInDimensions | Unset = UNSET
    timestamp: datetime.datetime | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        idempotency_key = self.idempotency_key

        quantity = self.quantity

        dimensions: dict[str, Any] | Unset = UNSET
        if not isinstance(self.dimensions, Unset):
            dimensions = self.dimensions.to_dict()

        timestamp: None | str | Unset
        if isinstance(self.timestamp, Unset):
            timestamp = UNSET
        elif isinstance(self.timestamp, datetime.datetime):
            if self.timestamp.utcoffset() is None:
                raise ValueError(
                    "timestamp: a datetime without a time zone is refused (Tally would have to guess it); "
                    "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                    "for the machine's local time"
                )

            timestamp = self.timestamp.isoformat()
        else:
            timestamp = self.timestamp

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "idempotency_key": idempotency_key,
                "quantity": quantity,
            }
        )
        if dimensions is not UNSET:
            field_dict["dimensions"] = dimensions
        if timestamp is not UNSET:
            field_dict["timestamp"] = timestamp

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.commit_in_dimensions import CommitInDimensions  # noqa: PLC0415

        d = dict(src_dict)
        idempotency_key = d.pop("idempotency_key")

        quantity = d.pop("quantity")

        _dimensions = d.pop("dimensions", UNSET)
        dimensions: CommitInDimensions | Unset
        if isinstance(_dimensions, Unset):
            dimensions = UNSET
        else:
            dimensions = CommitInDimensions.from_dict(_dimensions)

        def _parse_timestamp(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                timestamp_type_0 = datetime.datetime.fromisoformat(data)

                return timestamp_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        timestamp = _parse_timestamp(d.pop("timestamp", UNSET))

        commit_in = cls(
            idempotency_key=idempotency_key,
            quantity=quantity,
            dimensions=dimensions,
            timestamp=timestamp,
        )

        return commit_in
