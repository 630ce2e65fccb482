"""Opaque page cursors: the sort key of a page's last row, as URL-safe text."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

import msgspec

from tally.domain.errors import InvalidInput
from tally.metering.periods import as_utc


def encode_cursor(timestamp: datetime, key: str) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([timestamp, key])).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (timestamp, key) of ``cursor``; a 400 naming ``cursor`` when this API did not make it."""
    try:
        timestamp, key = msgspec.json.decode(base64.urlsafe_b64decode(cursor.encode()), type=tuple[datetime, str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidInput.field("cursor", "is not a cursor this API returned") from None
    return as_utc(timestamp), key
