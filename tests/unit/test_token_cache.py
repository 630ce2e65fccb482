"""The verified-token cache never outlives a token's expiry, and a cached token is tied to its secret."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from litestar.exceptions import NotAuthorizedException

from tally.http.auth import TallyToken

SECRET = "unit-secret-0123456789-0123456789-abcdef"


def encode(ttl: timedelta, secret: str = SECRET) -> str:
    now = datetime.now(UTC)
    return jwt.encode({"sub": "s", "exp": now + ttl, "role": "viewer"}, secret, algorithm="HS256")


def test_cached_token_is_refused_once_expired() -> None:
    # Two seconds: exp is a whole second, so a token issued late in a second still lives at least one more.
    token = encode(timedelta(seconds=2))
    assert TallyToken.decode(token, SECRET, "HS256").sub == "s"
    assert TallyToken.decode(token, SECRET, "HS256").sub == "s"  # answered from the cache
    time.sleep(max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"] - time.time()) + 0.1)
    with pytest.raises(NotAuthorizedException):
        TallyToken.decode(token, SECRET, "HS256")


def test_cached_token_does_not_pass_under_another_secret() -> None:
    token = encode(timedelta(minutes=5))
    TallyToken.decode(token, SECRET, "HS256")
    with pytest.raises(NotAuthorizedException):
        TallyToken.decode(token, "another-secret-0123456789-0123456789-xyz", "HS256")


def test_token_without_iat_is_accepted() -> None:
    now = datetime.now(UTC)
    token = jwt.encode({"sub": "s", "exp": now + timedelta(minutes=1)}, SECRET, algorithm="HS256")
    assert TallyToken.decode(token, SECRET, "HS256").sub == "s"


PREVIOUS = "previous-secret-0123456789-0123456789-abc"


def test_previous_secret_token_is_refused_once_the_grace_period_ends_even_when_cached() -> None:
    token = encode(timedelta(minutes=5), secret=PREVIOUS)
    until = datetime.now(UTC) + timedelta(seconds=1)
    rotating = TallyToken.accepting(PREVIOUS, until)
    assert rotating.decode(token, SECRET, "HS256").sub == "s"
    assert rotating.decode(token, SECRET, "HS256").sub == "s"  # answered from the cache
    assert (token, SECRET, "HS256") not in TallyToken._verified  # cached under the secret that verified it
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.05)
    with pytest.raises(NotAuthorizedException):
        rotating.decode(token, SECRET, "HS256")


def test_current_secret_token_passes_while_rotating() -> None:
    rotating = TallyToken.accepting(PREVIOUS, datetime.now(UTC) + timedelta(hours=1))
    assert rotating.decode(encode(timedelta(minutes=5)), SECRET, "HS256").sub == "s"


def test_without_a_previous_secret_nothing_else_is_accepted() -> None:
    assert TallyToken.accepting(None, None) is TallyToken
    with pytest.raises(NotAuthorizedException):
        TallyToken.decode(encode(timedelta(minutes=5), secret=PREVIOUS), SECRET, "HS256")
