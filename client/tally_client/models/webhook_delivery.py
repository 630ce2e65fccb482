from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.delivery_status import DeliveryStatus
from ..models.webhook_event_type import WebhookEventType

if TYPE_CHECKING:
    from ..models.delivery_attempt import DeliveryAttempt


T = TypeVar("T", bound="WebhookDelivery")


@_attrs_define
class WebhookDelivery:
    """
    Attributes:
        attempts (list[DeliveryAttempt]):
        endpoint_id (UUID):
        event_type (WebhookEventType):
        id (UUID):
        next_attempt_at (datetime.datetime | None):
        status (DeliveryStatus):
        webhook_id (str): The `webhook-id` header of every attempt.
    """

    attempts: list[DeliveryAttempt]
    endpoint_id: UUID
    event_type: WebhookEventType
    id: UUID
    next_attempt_at: datetime.datetime | None
    status: DeliveryStatus
    webhook_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        attempts = []
        for attempts_item_data in self.attempts:
            attempts_item = attempts_item_data.to_dict()
            attempts.append(attempts_item)

        endpoint_id = str(self.endpoint_id)

        event_type = self.event_type.value

        id = str(self.id)

        next_attempt_at: None | str
        if isinstance(self.next_attempt_at, datetime.datetime):
            if self.next_attempt_at.utcoffset() is None:
                raise ValueError(
                    "next_attempt_at: a datetime without a time zone is refused (Tally would have to guess it); "
                    "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                    "for the machine's local time"
                )

            next_attempt_at = self.next_attempt_at.isoformat()
        else:
            next_attempt_at = self.next_attempt_at

        status = self.status.value

        webhook_id = self.webhook_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "endpoint_id": endpoint_id,
                "event_type": event_type,
                "id": id,
                "next_attempt_at": next_attempt_at,
                "status": status,
                "webhook_id": webhook_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.delivery_attempt import DeliveryAttempt  # noqa: PLC0415

        d = dict(src_dict)
        attempts = []
        _attempts = d.pop("attempts")
        for attempts_item_data in _attempts:
            attempts_item = DeliveryAttempt.from_dict(attempts_item_data)

            attempts.append(attempts_item)

        endpoint_id = UUID(d.pop("endpoint_id"))

        event_type = WebhookEventType(d.pop("event_type"))

        id = UUID(d.pop("id"))

        def _parse_next_attempt_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                next_attempt_at_type_0 = datetime.datetime.fromisoformat(data)

                return next_attempt_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        next_attempt_at = _parse_next_attempt_at(d.pop("next_attempt_at"))

        status = DeliveryStatus(d.pop("status"))

        webhook_id = d.pop("webhook_id")

        webhook_delivery = cls(
            attempts=attempts,
            endpoint_id=endpoint_id,
            event_type=event_type,
            id=id,
            next_attempt_at=next_attempt_at,
            status=status,
            webhook_id=webhook_id,
        )

        webhook_delivery.additional_properties = d
        return webhook_delivery

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
