"""Domain errors: plain exceptions. ``tally.http.problems`` maps each to an RFC 9457 response."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from tally.domain.problems import FieldError

MAX_FIELD_ERRORS = 100  # a problem names at most this many fields, and says how many more there were


class TallyError(Exception):
    """Base of every error a caller can cause; ``status`` and ``slug`` shape the problem details."""

    status = 400
    slug = "invalid-input"
    title = "Invalid input"
    members: dict[str, object] = {}

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
        """The error for several fields: ``detail`` names each ("field: message; ..."), ``errors`` holds them
        (the first ``MAX_FIELD_ERRORS``; ``detail`` says how many more there were)."""
        shown = errors[:MAX_FIELD_ERRORS]
        return cls(describe(shown, more=len(errors) - len(shown)), shown)


def describe(errors: Sequence[FieldError], more: int = 0) -> str:
    """``errors`` as one human-readable line: "field: message; field: message" (and how many ``more``)."""
    line = "; ".join(f"{e.field}: {e.message}" for e in errors)
    return f"{line}; and {more} more" if more else line


class InvalidInput(TallyError):
    """The request is well-formed JSON but breaks a rule of the contract."""


class MalformedBody(InvalidInput):
    """The body (or a catalog file) is not JSON or TOML at all, or not UTF-8."""

    slug = "malformed-body"
    title = "Malformed body"


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


class UnsupportedMediaType(TallyError):
    """A JSON body sent under another ``Content-Type`` (text/plain, a form): refused, not guessed."""

    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class NotAcceptable(TallyError):
    """The ``Accept`` header names no media type the route can answer."""

    status = 406
    slug = "not-acceptable"
    title = "Not acceptable"


class SchemaNotMigrated(TallyError):
    """The database answers, but its schema is not the one this code needs (``tally migrate`` fixes it)."""

    status = 503
    slug = "schema-not-migrated"
    title = "Database schema not migrated"


class UnknownPlan(InvalidInput):
    slug = "unknown-plan"
    title = "Unknown plan"


class LimitExceeded(TallyError):
    status = 409
    slug = "limit-exceeded"
    title = "Usage limit exceeded"

    def with_members(self, **members: object) -> LimitExceeded:
        """The problem with machine-readable members besides its prose: ``limit``, ``used``, ``reserved``,
        ``credits_remaining``, ``remaining``, ``period_end`` of the first refused event's period."""
        self.members = members
        return self


class PeriodClosed(TallyError):
    """An event dated inside a closed billing period, or a void of one: its totals are final."""

    status = 409
    slug = "period-closed"
    title = "Billing period closed"
