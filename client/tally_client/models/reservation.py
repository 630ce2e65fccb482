from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.reservation_state import ReservationState
from ..types import UNSET, Unset

T = TypeVar("T", bound="Reservation")


@_attrs_define
class Reservation:
    """
    Attributes:
        committed_event (None | str): The idempotency key of the committed usage.
        committed_quantity (int | None):
        created_at (datetime.datetime):
        expires_at (datetime.datetime):
        feature_key (str):
        quantity (int):
        reservation_id (str):
        state (ReservationState): ``held`` while it counts against limits and credits; ``committed`` with its usage
            recorded; ``released``
                without usage; ``expired``: its lifetime ran out before a commit or a release.
        ended_before_commit (None | ReservationState | Unset): `released` or `expired` when the hold had ended before
            its commit recorded the usage.
    """

    committed_event: None | str
    committed_quantity: int | None
    created_at: datetime.datetime
    expires_at: datetime.datetime
    feature_key: str
    quantity: int
    reservation_id: str
    state: ReservationState
    ended_before_commit: None | ReservationState | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        committed_event: None | str
        committed_event = self.committed_event

        committed_quantity: int | None
        committed_quantity = self.committed_quantity

        if self.created_at.utcoffset() is None:
            raise ValueError(
                "created_at: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        created_at = self.created_at.isoformat()

        if self.expires_at.utcoffset() is None:
            raise ValueError(
                "expires_at: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        expires_at = self.expires_at.isoformat()

        feature_key = self.feature_key

        quantity = self.quantity

        reservation_id = self.reservation_id

        state = self.state.value

        ended_before_commit: None | str | Unset
        if isinstance(self.ended_before_commit, Unset):
            ended_before_commit = UNSET
        elif isinstance(self.ended_before_commit, ReservationState):
            ended_before_commit = self.ended_before_commit.value
        else:
            ended_before_commit = self.ended_before_commit

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "committed_event": committed_event,
                "committed_quantity": committed_quantity,
                "created_at": created_at,
                "expires_at": expires_at,
                "feature_key": feature_key,
                "quantity": quantity,
                "reservation_id": reservation_id,
                "state": state,
            }
        )
        if ended_before_commit is not UNSET:
            field_dict["ended_before_commit"] = ended_before_commit

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_committed_event(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        committed_event = _parse_committed_event(d.pop("committed_event"))

        def _parse_committed_quantity(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        committed_quantity = _parse_committed_quantity(d.pop("committed_quantity"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        expires_at = datetime.datetime.fromisoformat(d.pop("expires_at"))

        feature_key = d.pop("feature_key")

        quantity = d.pop("quantity")

        reservation_id = d.pop("reservation_id")

        state = ReservationState(d.pop("state"))

        def _parse_ended_before_commit(data: object) -> None | ReservationState | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                ended_before_commit_type_0 = ReservationState(data)

                return ended_before_commit_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ReservationState | Unset, data)

        ended_before_commit = _parse_ended_before_commit(d.pop("ended_before_commit", UNSET))

        reservation = cls(
            committed_event=committed_event,
            committed_quantity=committed_quantity,
            created_at=created_at,
            expires_at=expires_at,
            feature_key=feature_key,
            quantity=quantity,
            reservation_id=reservation_id,
            state=state,
            ended_before_commit=ended_before_commit,
        )

        reservation.additional_properties = d
        return reservation

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
