"""Which errors mean "the database cannot serve us now" (503), through advanced-alchemy's wrapping: its
repository methods re-raise SQLAlchemy's errors as their own (a lost connection even as its IntegrityError)."""

from __future__ import annotations

import pytest
from advanced_alchemy.exceptions import RepositoryError, wrap_sqlalchemy_exception
from sqlalchemy import exc as sa_exc

from tally.db.dialects import transient


class _Orig(Exception):
    def __init__(self, sqlstate: str | None = None) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


def wrapped(error: Exception) -> BaseException:
    """``error`` as an advanced-alchemy repository method raises it."""
    with pytest.raises(RepositoryError) as caught, wrap_sqlalchemy_exception(dialect_name="postgresql"):
        raise error
    return caught.value


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.OperationalError("SELECT 1", {}, _Orig()),
        sa_exc.InterfaceError("SELECT 1", {}, _Orig()),
        sa_exc.DBAPIError("SELECT 1", {}, _Orig("53300")),  # too many connections
        sa_exc.DBAPIError("SELECT 1", {}, _Orig("57P01")),  # admin shutdown
        sa_exc.TimeoutError(),  # the pool had no connection in time
        sa_exc.DBAPIError(None, None, _Orig("55000")),  # refused while connecting: not accepting connections
    ],
    ids=["operational", "interface", "53300", "57P01", "pool-timeout", "not-accepting-connections"],
)
def test_transient_errors_plain_and_wrapped(error: Exception) -> None:
    assert transient(error)
    assert transient(wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        sa_exc.IntegrityError("INSERT", {}, _Orig("23505")),
        sa_exc.DBAPIError("SELECT", {}, _Orig("22P02")),
        sa_exc.DBAPIError("SELECT", {}, _Orig("55000")),  # the same state on a statement is a bug
        ValueError(),
    ],
    ids=["unique-violation", "bad-text", "prerequisite-state-on-a-statement", "bug"],
)
def test_other_errors_are_not_transient(error: Exception) -> None:
    assert not transient(error)
    if isinstance(error, sa_exc.SQLAlchemyError):
        assert not transient(wrapped(error))
