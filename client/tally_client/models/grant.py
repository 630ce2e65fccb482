from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.grant_state import GrantState

T = TypeVar("T", bound="Grant")


@_attrs_define
class Grant:
    """
    Attributes:
        amount (int):
        created_at (datetime.datetime):
        effective_at (datetime.datetime):
        expires_at (datetime.datetime | None):
        feature_key (str):
        grant_id (str):
        note (None | str):
        notify_below (int | None):
        priority (int):
        remaining (int):
        state (GrantState): Where a grant stands now: not yet effective, burning, used up, past its expiry, or voided.
        used (int):
        void_reason (None | str):
        voided_at (datetime.datetime | None):
    """

    amount: int
    created_at: datetime.datetime
    effective_at: datetime.datetime
    expires_at: datetime.datetime | None
    feature_key: str
    grant_id: str
    note: None | str
    notify_below: int | None
    priority: int
    remaining: int
    state: GrantState
    used: int
    void_reason: None | str
    voided_at: datetime.datetime | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        if self.created_at.utcoffset() is None:
            raise ValueError(
                "created_at: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        created_at = self.created_at.isoformat()

        if self.effective_at.utcoffset() is None:
            raise ValueError(
                "effective_at: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        effective_at = self.effective_at.isoformat()

        expires_at: None | str
        if isinstance(self.expires_at, datetime.datetime):
            if self.expires_at.utcoffset() is None:
                raise ValueError(
                    "expires_at: a datetime without a time zone is refused (Tally would have to guess it); "
                    "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                    "for the machine's local time"
                )

            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        feature_key = self.feature_key

        grant_id = self.grant_id

        note: None | str
        note = self.note

        notify_below: int | None
        notify_below = self.notify_below

        priority = self.priority

        remaining = self.remaining

        state = self.state.value

        used = self.used

        void_reason: None | str
        void_reason = self.void_reason

        voided_at: None | str
        if isinstance(self.voided_at, datetime.datetime):
            if self.voided_at.utcoffset() is None:
                raise ValueError(
                    "voided_at: a datetime without a time zone is refused (Tally would have to guess it); "
                    "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                    "for the machine's local time"
                )

            voided_at = self.voided_at.isoformat()
        else:
            voided_at = self.voided_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "created_at": created_at,
                "effective_at": effective_at,
                "expires_at": expires_at,
                "feature_key": feature_key,
                "grant_id": grant_id,
                "note": note,
                "notify_below": notify_below,
                "priority": priority,
                "remaining": remaining,
                "state": state,
                "used": used,
                "void_reason": void_reason,
                "voided_at": voided_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        effective_at = datetime.datetime.fromisoformat(d.pop("effective_at"))

        def _parse_expires_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        expires_at = _parse_expires_at(d.pop("expires_at"))

        feature_key = d.pop("feature_key")

        grant_id = d.pop("grant_id")

        def _parse_note(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        note = _parse_note(d.pop("note"))

        def _parse_notify_below(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        notify_below = _parse_notify_below(d.pop("notify_below"))

        priority = d.pop("priority")

        remaining = d.pop("remaining")

        state = GrantState(d.pop("state"))

        used = d.pop("used")

        def _parse_void_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        void_reason = _parse_void_reason(d.pop("void_reason"))

        def _parse_voided_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                voided_at_type_0 = datetime.datetime.fromisoformat(data)

                return voided_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        voided_at = _parse_voided_at(d.pop("voided_at"))

        grant = cls(
            amount=amount,
            created_at=created_at,
            effective_at=effective_at,
            expires_at=expires_at,
            feature_key=feature_key,
            grant_id=grant_id,
            note=note,
            notify_below=notify_below,
            priority=priority,
            remaining=remaining,
            state=state,
            used=used,
            void_reason=void_reason,
            voided_at=voided_at,
        )

        grant.additional_properties = d
        return grant

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
