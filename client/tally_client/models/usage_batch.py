from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.usage_event_in import UsageEventIn


T = TypeVar("T", bound="UsageBatch")


@_attrs_define
class UsageBatch:
    """
    Attributes:
        events (list[UsageEventIn]):
    """

    events: list[UsageEventIn]

    def to_dict(self) -> dict[str, Any]:
        events = []
        for events_item_data in self.events:
            events_item = events_item_data.to_dict()
            events.append(events_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "events": events,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.usage_event_in import UsageEventIn  # noqa: PLC0415

        d = dict(src_dict)
        events = []
        _events = d.pop("events")
        for events_item_data in _events:
            events_item = UsageEventIn.from_dict(events_item_data)

            events.append(events_item)

        usage_batch = cls(
            events=events,
        )

        return usage_batch
