"""Input is refused, never guessed: every string Tally reads is checked once, where it is decoded.

Two doors, one rule (``text_problem``: no NUL, no lone surrogate, no bytes that are not UTF-8):

- ``decode``: a JSON (or TOML) document into a msgspec type, strictly (``"3"`` is not 3, a number is not a
  datetime), with every string checked and *every* bad field reported (``InvalidInput.fields`` bounds how many), where
  msgspec stops at the first. ``StrictRequest`` makes it the decoder of every request body; the catalog
  file goes through it too.
- ``refuse_bad_text``: the middleware's check of what is decoded before a handler runs: path parameters, the
  query string and the headers Tally reads.

Why by hand: PostgreSQL ``text`` cannot hold NUL (asyncpg refuses it on bind: a 500) while SQLite stores it,
so the two databases disagree unless input is checked before it gets there; msgspec has no constraint for
"no NUL" that would apply to every string (a pattern on each field would, but not to dictionary keys and
values). Litestar converts bodies leniently (``strict=False``) and reports one error; its query parser
replaces bytes that are not UTF-8 by U+FFFD. Both would be guesses.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin
from urllib.parse import unquote_to_bytes

import msgspec
from litestar import Request
from litestar.types import Empty, Scope

from tally.domain.errors import InvalidInput, MalformedBody, UnsupportedMediaType
from tally.domain.problems import FieldError
from tally.metering.periods import NAIVE

T = TypeVar("T")

# The headers Tally (or Litestar for it) reads; others pass through unread.
READ_HEADERS = frozenset({b"authorization", b"cookie", b"x-request-id", b"content-type"})
NUL_ESCAPE = b"\\u0000"  # a NUL can only reach a JSON string as this escape (raw control bytes are invalid JSON)


def text_problem(text: str) -> str | None:
    """Why ``text`` is refused, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which Tally does not accept"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (an unpaired \\ud800-\\udfff), which is not Unicode text"
    return None


def shown(name: str) -> str:
    """A field name as it can be printed and encoded: NUL and lone surrogates escaped."""
    return name.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def _join(path: str, key: str) -> str:
    return f"{path}.{shown(key)}" if path else shown(key)


def bad_text(value: object, path: str = "") -> Iterator[FieldError]:
    """Every string of a decoded document (keys too) that ``text_problem`` refuses, by its path."""
    if isinstance(value, str):
        if problem := text_problem(value):
            yield FieldError(field=path or "body", message=problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            if problem := text_problem(key):
                yield FieldError(field=_join(path, key), message=f"the field name {problem}")
            yield from bad_text(item, _join(path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from bad_text(item, f"{path}[{i}]")


def field_errors(value: object, type_: Any, path: str = "") -> Iterator[FieldError]:
    """Every reason ``value`` is not a ``type_``: a struct is checked field by field (unknown, missing and bad
    fields), a list of structs item by item; anything else is msgspec's one message."""
    try:
        msgspec.convert(value, type_)  # strict: a string is not a number, a number is not a datetime
    except msgspec.ValidationError as exc:
        message, _, at = str(exc).partition(" - at `$")
    else:
        return
    at = at.rstrip("`")
    base = get_args(type_)[0] if get_origin(type_) is Annotated else type_
    found = False
    if isinstance(base, type) and issubclass(base, msgspec.Struct) and isinstance(value, dict):
        fields = msgspec.structs.fields(base)
        names = [f.encode_name for f in fields]
        for key in value:
            if key not in names:
                found = True
                yield FieldError(field=_join(path, key), message=_unknown(key, names))
        for f in fields:
            if f.encode_name in value:
                for error in field_errors(value[f.encode_name], f.type, _join(path, f.encode_name)):
                    found = True
                    yield error
            elif f.required:
                found = True
                yield FieldError(field=_join(path, f.encode_name), message="required field is missing")
    elif at.startswith("[") and get_origin(base) is list and isinstance(value, list):
        (item_type,) = get_args(base)
        for i, item in enumerate(value):
            for error in field_errors(item, item_type, f"{path}[{i}]"):
                found = True
                yield error
    if not found:
        field = f"{path}{at}" if path or not at.startswith(".") else at[1:]
        yield FieldError(field=field or "body", message=explained(message, value))


# msgspec's own words for a bad value, and what to do next. A zone-less datetime names no instant; a list over
# its bound is split by the caller.
NO_ZONE = "Expected `datetime` with a timezone component"
TOO_LONG = re.compile(r"Expected `array` of length <= (\d+)")


def explained(message: str, value: object) -> str:
    if message == NO_ZONE:
        return f"'{value}' {NAIVE}"
    if (too_long := TOO_LONG.fullmatch(message)) and isinstance(value, list):
        most = too_long.group(1)
        return f"has {len(value)} items, at most {most} are taken: split it into requests of at most {most}"
    return message


def _unknown(key: str, names: list[str]) -> str:
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    return (
        f"unknown field; did you mean '{close[0]}'?" if close else f"unknown field; the fields are {', '.join(names)}"
    )


_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def _json_decoder(type_: type[T]) -> msgspec.json.Decoder[T]:
    """One decoder per type, made on first use."""
    decoder = _DECODERS.get(type_)
    if decoder is None:
        decoder = _DECODERS[type_] = msgspec.json.Decoder(type_)
    return decoder


def decode(data: bytes, type_: type[T], *, source: str = "body", fmt: Literal["json", "toml"] = "json") -> T:
    """``data`` as a ``type_``, or ``InvalidInput`` naming every bad field (``MalformedBody`` when ``data`` is
    not JSON, or TOML, at all). ``source`` names the document in messages."""
    if fmt == "json" and NUL_ESCAPE not in data:
        # The common case in one pass, straight into the type: a valid body has no string to walk for a NUL (the
        # raw document would hold its escape). Anything wrong is decoded again below to name every bad field.
        try:
            return _json_decoder(type_).decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError):
            pass
    try:
        value = msgspec.toml.decode(data) if fmt == "toml" else msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _undecodable(data, exc, source, fmt) from None
    # A decoded document can only hold a NUL where the raw one has the escape: skip the walk otherwise.
    errors = list(bad_text(value)) if NUL_ESCAPE in data or fmt == "toml" else []
    try:
        decoded = msgspec.convert(value, type_)
    except msgspec.ValidationError:
        named = {e.field for e in errors}  # a NUL also breaks the field's declared pattern: say it once
        errors += [e for e in field_errors(value, type_) if e.field not in named]
    if errors:
        raise InvalidInput.fields(errors)
    return decoded


def _undecodable(data: bytes, exc: Exception, source: str, fmt: str) -> InvalidInput:
    if isinstance(exc, UnicodeDecodeError):
        return MalformedBody.field(source, "is not valid UTF-8")
    if fmt == "json":
        # msgspec refuses an escaped lone surrogate ("\udaa0") as malformed JSON ("Input data was truncated");
        # Python's parser keeps it, so it can say which field holds it.
        try:
            lenient = json.loads(data)
        except ValueError:
            pass
        else:
            if texts := list(bad_text(lenient)):
                return InvalidInput.fields(texts)
    return MalformedBody.field(source, f"is not valid {fmt.upper()}: {exc}")


class StrictRequest(Request[Any, Any, Any]):
    """Litestar's request (``Litestar(request_class=...)``), whose JSON body is decoded by ``decode`` into the
    handler's ``data`` struct. Litestar's signature model passes a value that already is of its type through
    unchanged, so the body is decoded once, strictly."""

    async def json(self) -> Any:
        data_field = self.route_handler.parsed_data_field
        if data_field is None or not _is_struct(data_field.annotation):
            return await super().json()
        if self._json is Empty:
            media_type, _ = self.content_type
            if media_type != "application/json" and not (
                media_type.startswith("application/") and media_type.endswith("+json")
            ):
                sent = self.headers.get("content-type")
                raise UnsupportedMediaType.field(
                    "Content-Type",
                    (f"'{sent}' is not JSON" if sent else "is missing")
                    + ": send the body as Content-Type: application/json",
                )
            self._json = decode(await self.body(), data_field.annotation)
        return self._json


def _is_json(media_type: str) -> bool:
    """``application/json``, or a JSON-based type such as ``application/vnd.api+json``."""
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _is_struct(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def _decoded(raw: bytes) -> str | None:
    """A percent-encoded part of a URL as text, or None when its bytes are not UTF-8."""
    try:
        return unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


# A percent escape of a NUL or of a byte outside ASCII.
_ESCAPED_NOT_PLAIN = re.compile(rb"%(?:00|[89a-fA-F][0-9a-fA-F])")


def _plain(raw: bytes) -> bool:
    """Bytes that cannot hold refused text: ASCII with no NUL, percent escapes decoded (a query's timestamps
    escape their ``:`` and ``+``). Searched for the escapes that would decode to other bytes rather than decoded:
    decoding a totals read's query first took 6 µs, the search 1."""
    return raw.isascii() and b"\x00" not in raw and (b"%" not in raw or _ESCAPED_NOT_PLAIN.search(raw) is None)


def request_text_errors(scope: Scope) -> Iterator[FieldError]:
    """What ``refuse_bad_text`` refuses in one request: its path parameters, query string and read headers."""
    not_utf8 = "is not valid UTF-8 (a lone surrogate or a broken byte sequence)"
    raw_path = scope.get("raw_path") or b""
    # Nearly every request: nothing to decode one parameter at a time (that cost a totals read 7% of its
    # instructions, callgrind: its timestamps escape `:` and `+`).
    if (
        _plain(raw_path)
        and _plain(scope.get("query_string", b""))
        and all(_plain(raw) for header, raw in scope.get("headers", ()) if header.lower() in READ_HEADERS)
    ):
        return
    path_is_text = _decoded(raw_path) is not None
    params: Mapping[str, object] = scope.get("path_params", {})
    for name, param in params.items():
        if not isinstance(param, str):  # a typed parameter (``{id:uuid}``) was parsed by Litestar already
            continue
        if problem := text_problem(param):
            yield FieldError(field=name, message=problem)
        elif not path_is_text and "\ufffd" in param:  # the server replaced the bytes it could not decode
            yield FieldError(field=name, message=not_utf8)
    for part in scope.get("query_string", b"").split(b"&"):
        raw_name, _, raw_value = part.replace(b"+", b" ").partition(b"=")
        key = _decoded(raw_name)
        if key is None:
            yield FieldError(field="query", message=f"a parameter name {not_utf8}")
            continue
        if problem := text_problem(key):
            yield FieldError(field=shown(key), message=f"the parameter name {problem}")
            continue
        text = _decoded(raw_value)
        if text is None:
            yield FieldError(field=key, message=not_utf8)
        elif problem := text_problem(text):
            yield FieldError(field=key, message=problem)
    for header, raw in scope.get("headers", ()):
        if header.lower() in READ_HEADERS:
            try:
                problem = text_problem(raw.decode("utf-8"))
            except UnicodeDecodeError:
                problem = not_utf8
            if problem:
                yield FieldError(field=f"{header.decode('latin-1')} header", message=problem)


def refuse_bad_text(scope: Scope) -> None:
    """Refuse (400, naming the parameter or header) a request whose path, query or read headers hold text that
    ``text_problem`` refuses. Called by ``tally.http.middleware`` after routing (path parameters are known) and
    before the token check."""
    if errors := list(request_text_errors(scope)):
        raise InvalidInput.fields(errors)
