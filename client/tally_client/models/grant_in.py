from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="GrantIn")


@_attrs_define
class GrantIn:
    """
    Attributes:
        amount (int):
        feature_key (str): Lower-case identifier of a metered feature.
        grant_id (str): Client-chosen id of a grant: re-sending a create with the same id is the same grant.
        effective_at (datetime.datetime | None | Unset): When it starts to cover usage; default now.
        expires_at (datetime.datetime | None | Unset): When it stops covering usage; none: never.
        note (None | str | Unset):
        notify_below (int | None | Unset): A `credits.low` webhook message when the feature's `credits_remaining` falls
            below this.
        priority (int | Unset): Burn-down order: 0 burns first. Default: 0.
    """

    amount: int
    feature_key: str
    grant_id: str
    effective_at: datetime.datetime | None | Unset = UNSET
    expires_at: datetime.datetime | None | Unset = UNSET
    note: None | str | Unset = UNSET
    notify_below: int | None | Unset = UNSET
    priority: int | Unset = 0

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        feature_key = self.feature_key

        grant_id = self.grant_id

        effective_at: None | str | Unset
        if isinstance(self.effective_at, Unset):
            effective_at = UNSET
        elif isinstance(self.effective_at, datetime.datetime):
            if self.effective_at.utcoffset() is None:
                raise ValueError(
                    "effective_at: a datetime without a time zone is refused (Tally would have to guess it); "
                    "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                    "for the machine's local time"
                )

            effective_at = self.effective_at.isoformat()
        else:
            effective_at = self.effective_at

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            if self.expires_at.utcoffset() is None:
                raise ValueError(
                    "expires_at: a datetime without a time zone is refused (Tally would have to guess it); "
                    "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                    "for the machine's local time"
                )

            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        note: None | str | Unset
        if isinstance(self.note, Unset):
            note = UNSET
        else:
            note = self.note

        notify_below: int | None | Unset
        if isinstance(self.notify_below, Unset):
            notify_below = UNSET
        else:
            notify_below = self.notify_below

        priority = self.priority

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "amount": amount,
                "feature_key": feature_key,
                "grant_id": grant_id,
            }
        )
        if effective_at is not UNSET:
            field_dict["effective_at"] = effective_at
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if note is not UNSET:
            field_dict["note"] = note
        if notify_below is not UNSET:
            field_dict["notify_below"] = notify_below
        if priority is not UNSET:
            field_dict["priority"] = priority

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        feature_key = d.pop("feature_key")

        grant_id = d.pop("grant_id")

        def _parse_effective_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                effective_at_type_0 = datetime.datetime.fromisoformat(data)

                return effective_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        effective_at = _parse_effective_at(d.pop("effective_at", UNSET))

        def _parse_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))

        def _parse_note(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        note = _parse_note(d.pop("note", UNSET))

        def _parse_notify_below(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        notify_below = _parse_notify_below(d.pop("notify_below", UNSET))

        priority = d.pop("priority", UNSET)

        grant_in = cls(
            amount=amount,
            feature_key=feature_key,
            grant_id=grant_id,
            effective_at=effective_at,
            expires_at=expires_at,
            note=note,
            notify_below=notify_below,
            priority=priority,
        )

        return grant_in
