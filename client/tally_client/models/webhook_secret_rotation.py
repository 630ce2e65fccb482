from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="WebhookSecretRotation")


@_attrs_define
class WebhookSecretRotation:
    """
    Attributes:
        endpoint_id (UUID):
        previous_secret_expires_at (datetime.datetime): Until this instant every delivery's `webhook-signature` carries
            a signature made with the previous secret as well as one with the new secret.
        secret (str): `whsec_…`: verifies the `webhook-signature` header. Shown only here.
    """

    endpoint_id: UUID
    previous_secret_expires_at: datetime.datetime
    secret: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        endpoint_id = str(self.endpoint_id)

        if self.previous_secret_expires_at.utcoffset() is None:
            raise ValueError(
                "previous_secret_expires_at: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        previous_secret_expires_at = self.previous_secret_expires_at.isoformat()

        secret = self.secret

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "endpoint_id": endpoint_id,
                "previous_secret_expires_at": previous_secret_expires_at,
                "secret": secret,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        endpoint_id = UUID(d.pop("endpoint_id"))

        previous_secret_expires_at = datetime.datetime.fromisoformat(d.pop("previous_secret_expires_at"))

        secret = d.pop("secret")

        webhook_secret_rotation = cls(
            endpoint_id=endpoint_id,
            previous_secret_expires_at=previous_secret_expires_at,
            secret=secret,
        )

        webhook_secret_rotation.additional_properties = d
        return webhook_secret_rotation

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
