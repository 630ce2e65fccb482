"""What an error answer is made of: RFC 9457 problem details and the fields they name."""

from __future__ import annotations

import msgspec


class FieldError(msgspec.Struct, kw_only=True, frozen=True):
    """One invalid input: where it is and what is wrong with it."""

    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """RFC 9457 problem details: the body of every 4xx and 5xx answer."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
