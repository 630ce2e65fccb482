from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ReservationIn")


@_attrs_define
class ReservationIn:
    """
    Attributes:
        feature_key (str): Lower-case identifier of a metered feature.
        quantity (int): The upper bound to hold.
        reservation_id (str): Client-chosen id of a hold: re-sending a hold with the same id is the same hold.
        expires_in_seconds (int | Unset): Lifetime of the hold: it ends by itself then. Default: 300.
    """

    feature_key: str
    quantity: int
    reservation_id: str
    expires_in_seconds: int | Unset = 300

    def to_dict(self) -> dict[str, Any]:
        feature_key = self.feature_key

        quantity = self.quantity

        reservation_id = self.reservation_id

        expires_in_seconds = self.expires_in_seconds

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "feature_key": feature_key,
                "quantity": quantity,
                "reservation_id": reservation_id,
            }
        )
        if expires_in_seconds is not UNSET:
            field_dict["expires_in_seconds"] = expires_in_seconds

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        feature_key = d.pop("feature_key")

        quantity = d.pop("quantity")

        reservation_id = d.pop("reservation_id")

        expires_in_seconds = d.pop("expires_in_seconds", UNSET)

        reservation_in = cls(
            feature_key=feature_key,
            quantity=quantity,
            reservation_id=reservation_id,
            expires_in_seconds=expires_in_seconds,
        )

        return reservation_in
