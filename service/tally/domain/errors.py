"""Domain errors: plain exceptions. ``tally.errors`` maps each to an RFC 9457 response."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from tally.domain.models import FieldError


class TallyError(Exception):
    """Base of every error a caller can cause; ``status`` and ``slug`` shape the problem details."""

    status = 400
    slug = "invalid-input"
    title = "Invalid input"

    def __init__(self, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)

    @classmethod
    def field(cls, field: str, message: str) -> Self:
        """The error for one field: ``detail`` names it, ``errors`` holds it."""
        return cls.fields([FieldError(field=field, message=message)])

    @classmethod
    def fields(cls, errors: Sequence[FieldError]) -> Self:
        """The error for several fields: ``detail`` names each ("field: message; ..."), ``errors`` holds them."""
        return cls(describe(errors), errors)


def describe(errors: Sequence[FieldError]) -> str:
    """``errors`` as one human-readable line: "field: message; field: message"."""
    return "; ".join(f"{e.field}: {e.message}" for e in errors)


class InvalidInput(TallyError):
    """The request is well-formed JSON but breaks a rule of the contract."""


class UnknownFeature(InvalidInput):
    slug = "unknown-feature"
    title = "Unknown feature"


class IdempotencyConflict(TallyError):
    status = 409
    slug = "idempotency-conflict"
    title = "Idempotency key reused with different content"


class ImmutableFeature(TallyError):
    status = 409
    slug = "immutable-feature"
    title = "Feature field cannot change"


class NotFound(TallyError):
    status = 404
    slug = "not-found"
    title = "Not found"


class UnknownPlan(InvalidInput):
    slug = "unknown-plan"
    title = "Unknown plan"


class LimitExceeded(TallyError):
    status = 409
    slug = "limit-exceeded"
    title = "Usage limit exceeded"
