"""Structured logs: one JSON object per line, each tagged with the id of the request it belongs to.

Litestar's ``LoggingConfig`` does the plumbing (``dictConfig``, its queue handler so that writing a log line
never blocks the event loop); this module adds only what it lacks without structlog:

- ``JsonFormatter``, a ``logging.Formatter`` that writes a record as one JSON line. An exception is written
  by its type alone: its message or traceback may carry SQL, parameters or a token.
- ``RequestIdFilter``, which copies the current request id onto each record in the thread that logs it
  (the queue handler may format records later, in its listener thread, where the request is not known).
- the request id itself: ``X-Request-ID`` from the caller when it is a short safe token, else a fresh one,
  echoed in the response header. Litestar has no request-id feature, so the middleware sets it (it must come
  before the token check, so that a 401 has one too) and a ``before_send`` hook echoes it: a 401 or a 404 is
  sent by Litestar's exception handler outside every middleware, which only ``before_send`` sees.

``process_log_config`` is the same format for uvicorn's own process, before the app exists: the parent process
of ``tally serve --workers N`` (which runs no app) writes JSON lines too. Every line carries the ``pid``.

Nothing here logs a header or a body. One ``request`` line per answered request gives the method, the route
*template* (``/api/v1/billing/tenants/{tenant_id}/usage-totals``: never the raw path or query string),
the status and the duration.
"""

from __future__ import annotations

import logging
import random
import re
import sys
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.logging import LoggingConfig
from litestar.types import Message, Scope

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode()
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
REQUEST_ID: ContextVar[str | None] = ContextVar("tally_request_id", default=None)
FIELDS = ("method", "route", "status", "duration_ms", "url", "workers", "database")
STATE_KEY = "tally_request"

access_logger = logging.getLogger("tally.access")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id"?, <fields>?, "exception"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for name in FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
        return msgspec.json.encode(entry).decode()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = REQUEST_ID.get()
        return True


class BatchedStderrHandler(logging.Handler):
    """The access log's handler: each line formatted where it is logged, the lines written to stderr together
    by a thread of its own every ``interval`` seconds (and at exit, by ``logging.shutdown``).

    Why not Litestar's queue handler, which the other loggers use: it hands every record to its listener thread
    through a queue, which wakes that thread, then formats and writes each line on its own. For the one line
    per request that cost 0.13 ms of worker CPU (py-spy: more than all of ``/health/live`` at WARNING); here a
    request pays for its line's formatting and a list append, and the thread wakes ten times a second.
    """

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__()
        self.interval = interval
        # The stderr of the moment the handler is made, as logging.StreamHandler keeps its stream: the lines go
        # where the app's other log lines go, even when sys.stderr is swapped later (pytest does so around each
        # test; looked up at each write, lines logged during a test leaked into its progress output).
        self.stream = sys.stderr
        self.lines: list[str] = []
        self.closed = threading.Event()
        # Held while lines are written: a flush() returns only once every line logged before it is out, even when
        # the thread had already taken them (only flush takes it, so a request never waits on it).
        self.writing = threading.Lock()
        threading.Thread(target=self._write_periodically, name="tally-access-log", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - as logging.Handler does: a bad line must not fail the request
            self.handleError(record)
            return
        self.lines.append(line)  # list.append is atomic under the GIL: no lock needed against flush's swap

    def flush(self) -> None:
        with self.writing:
            lines, self.lines = self.lines, []
            if lines:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()

    def close(self) -> None:
        self.closed.set()
        self.flush()
        super().close()

    def _write_periodically(self) -> None:
        while not self.closed.wait(self.interval):
            try:
                self.flush()
            except (OSError, ValueError):  # stderr closed or gone: nothing to write to
                return


def logging_config(level: str) -> LoggingConfig:
    """JSON lines on stderr for the app's loggers, the root logger and uvicorn's (its access log included)."""

    def handler(level: str = level) -> dict[str, Any]:
        # A dictionary per logger: Litestar writes the "litestar" logger's level into its entry (Litestar.debug),
        # and a shared one put uvicorn's access log at INFO whatever TALLY_LOG_LEVEL said.
        return {"handlers": ["queue_listener"], "propagate": False, "level": level}

    return LoggingConfig(
        formatters={"standard": {"()": JsonFormatter}},
        filters={"request_id": {"()": RequestIdFilter}},
        handlers={
            "console": {"class": "logging.StreamHandler", "formatter": "standard"},
            "queue_listener": {
                "class": "litestar.logging.standard.QueueListenerHandler",
                "formatter": "standard",
                "filters": ["request_id"],
            },
            "access": {"()": BatchedStderrHandler, "formatter": "standard"},
        },
        root={"level": level, "handlers": ["queue_listener"]},
        # alembic: the readiness check's schema look-up would log two INFO lines each time.
        loggers={
            "litestar": handler(),
            "uvicorn": handler(),
            # uvicorn's access line names the raw path (a tenant id) and its query (the sign-in link's token):
            # off at every level, under `tally serve` and a bare uvicorn alike. uvicorn's access_log=False is
            # not enough: it checks for handlers when a connection opens, after this config has added them.
            "uvicorn.access": handler("WARNING"),
            # Tally's one line per request: its own handler (see BatchedStderrHandler); the line carries its
            # request id itself, so it needs no filter.
            "tally.access": {"handlers": ["access"], "propagate": False, "level": level},
            "alembic": handler("WARNING"),
        },
        log_exceptions="never",
    )


def process_log_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn (its ``log_config``): JSON lines on stderr in every process,
    the parent of several workers included; the app's ``logging_config`` then takes over in each worker."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {"uvicorn": {"level": level, "handlers": ["stderr"], "propagate": False}},
    }


def request_state(scope: Scope) -> dict[str, Any]:
    """The request's id and start time, made on first use."""
    state: dict[str, Any] = scope.setdefault("state", {})
    if STATE_KEY not in state:
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-request-id"), "")
        # 32 hex digits, as a UUID has: an id, not a secret, so Python's generator, not a getrandom() call per request.
        request_id = incoming if SAFE_REQUEST_ID.fullmatch(incoming) else f"{random.getrandbits(128):032x}"
        state[STATE_KEY] = {"id": request_id, "start": time.perf_counter()}
    return state[STATE_KEY]  # type: ignore[no-any-return]


def start_request(scope: Scope) -> None:
    """Set the request id before anything else of the request runs (the first step of ``tally.http.middleware``).
    Not reset afterwards: an error answer is sent after the middleware returns, and each request is its own task."""
    REQUEST_ID.set(request_state(scope)["id"])


async def echo_request_id(message: Message, scope: Scope) -> None:
    """``before_send`` hook: the request id header on every answer, and one ``request`` log line."""
    if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
        return
    state = request_state(scope)
    REQUEST_ID.set(state["id"])
    # Added to the raw headers, not set through MutableScopeHeaders, which first searches them for one to replace:
    # nothing else sets this header (tests/e2e/test_logs.py sees one value per answer).
    message["headers"] = [*message.get("headers", ()), (_REQUEST_ID_NAME, state["id"].encode())]
    if not access_logger.isEnabledFor(logging.INFO):
        return
    fields = {
        "request_id": state["id"],
        "method": scope.get("method"),
        "route": scope.get("path_template"),
        "status": message["status"],
        "duration_ms": round((time.perf_counter() - state["start"]) * 1000, 1),
    }
    access_logger.info("request", extra=fields)
