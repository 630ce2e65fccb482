"""The recorder: usage recorded with a call that returns at once, sent in batches from a background thread
(``Recorder``) or task (``AsyncRecorder``), retried until the server has it, and never lost without a word.

Hand-written beside the generated client (scripts/contract.py keeps it when it regenerates the package); it sends
through the generated ``record_usage_events``. Each event gets its idempotency key (and its timestamp) when it is
recorded, so every retry re-sends the same event and the server counts it once, however often it was sent.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import datetime as dt
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Literal, Self

import httpx

from .api.usage import record_usage_events
from .client import AuthenticatedClient
from .models import IngestResult, Problem, UsageBatch, UsageEventIn, UsageEventInDimensions
from .types import UNSET, Response

__all__ = ("AsyncRecorder", "ErrorHandler", "RecordedEvent", "Recorder")

logger = logging.getLogger("tally_client.recorder")

MAX_BATCH = 1000  # the API's limit of events per request
# Answers worth sending again unchanged: the server (or a proxy before it) was busy, restarting or rate limited.
RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})
# A problem names the events it is about as ``events[i]`` (in ``errors[].field`` or in ``detail``).
EVENT_INDEX = re.compile(r"events\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One recorded event, as it is (re)sent: its key and timestamp were fixed when it was recorded."""

    tenant_id: uuid.UUID
    event: UsageEventIn


ErrorHandler = Callable[[Sequence[RecordedEvent], Problem | None], None]
"""Called with events the server refused (and its problem: a 4xx about their content, which sending again would
not change) or, with ``None``, events still unsent when ``close``'s time ran out."""


def log_error(events: Sequence[RecordedEvent], problem: Problem | None) -> None:
    """The default ``on_error``: an error log line, so that no event is lost without a word."""
    reason = f"{problem.status} {problem.title}: {problem.detail}" if problem else "unsent when the recorder closed"
    keys = ", ".join(e.event.idempotency_key for e in events[:5]) + (", ..." if len(events) > 5 else "")
    logger.error("tally recorder: %d event(s) not recorded (%s): %s", len(events), reason, keys)


@dataclass
class _Delivery:
    """Sends one chunk of events to the end, without I/O of its own (the sync and async recorders share it): asks
    for the next request to make, is told its answer, and says how long to wait before the next request."""

    pending: list[list[RecordedEvent]]
    max_retry_delay: float
    settle: Callable[[Sequence[RecordedEvent], Problem | None, bool], None]
    attempt: int = 0

    def next_batch(self) -> list[RecordedEvent] | None:
        return self.pending[-1] if self.pending else None

    def give_up(self) -> None:
        """Time ran out: report what is left as unsent."""
        for batch in self.pending:
            self.settle(batch, None, False)
        self.pending.clear()

    def answered(self, response: Response[IngestResult | Problem] | None) -> float:
        """Take the answer to ``next_batch()`` (``None``: no usable answer) and return the seconds to wait."""
        batch = self.pending[-1]
        status = response.status_code if response is not None else None
        if response is not None and isinstance(response.parsed, IngestResult):
            self.pending.pop()
            self.settle(batch, None, True)
            self.attempt = 0
            return 0.0
        if response is None or status in RETRIED or not isinstance(response.parsed, Problem):
            self.attempt += 1
            return self._delay(response)
        self.pending.pop()
        self.attempt = 0
        if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE and len(batch) > 1:  # too big, not wrong: send halves
            self.pending += [batch[len(batch) // 2 :], batch[: len(batch) // 2]]
            return 0.0
        # Refused for its content: the events the problem names are reported, the rest of the batch goes again.
        problem = response.parsed
        texts = [problem.detail, *(e.field for e in (problem.errors if isinstance(problem.errors, list) else []))]
        named = {int(i) for text in texts for i in EVENT_INDEX.findall(text) if int(i) < len(batch)}
        if not named or len(named) == len(batch):
            self.settle(batch, problem, False)
            return 0.0
        self.settle([e for i, e in enumerate(batch) if i in named], problem, False)
        self.pending.append([e for i, e in enumerate(batch) if i not in named])
        return 0.0

    def _delay(self, response: Response[IngestResult | Problem] | None) -> float:
        """Retry-After when the server sent one, else exponential backoff with jitter; at most max_retry_delay."""
        retry_after = str(response.headers.get("retry-after", "")) if response is not None else ""
        if retry_after.isdigit():
            return min(float(retry_after), self.max_retry_delay)
        backoff: float = min(self.max_retry_delay, 0.05 * 2 ** min(self.attempt, 16))
        return backoff * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)


@dataclass
class _Buffer:
    """What both recorders keep and decide without I/O: the bounded queue of events not yet settled, the chunk
    being sent, the counts, and when the next batch is due."""

    batch_size: int
    flush_interval: float
    max_buffered: int
    when_full: Literal["block", "drop"]
    max_retry_delay: float
    on_error: ErrorHandler
    events: collections.deque[RecordedEvent] = field(default_factory=collections.deque)
    oldest: float | None = None  # when the oldest buffered event was recorded (monotonic clock)
    delivery: _Delivery | None = None  # the chunk being sent
    in_flight: int = 0
    recorded: int = 0
    settled: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    closed: bool = False
    deadline: float | None = None  # set by close(timeout): retries stop then
    flushing: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH}")
        if self.max_buffered < self.batch_size:
            raise ValueError("max_buffered must be at least batch_size")
        if self.when_full not in ("block", "drop"):
            raise ValueError('when_full must be "block" or "drop"')

    def must_wait(self) -> bool:
        """Whether ``record`` waits for room: the buffer is full, set to block, and open."""
        return self.full and self.when_full == "block" and not self.closed

    @property
    def full(self) -> bool:
        return len(self.events) + self.in_flight >= self.max_buffered

    def admit(self, event: RecordedEvent) -> bool:
        """Buffer ``event`` (after any wait for room); False when it is dropped (counted)."""
        if self.closed:
            raise RuntimeError("the recorder is closed")
        if self.full:
            self.dropped += 1
            return False
        self.events.append(event)
        self.recorded += 1
        self.oldest = self.oldest or time.monotonic()
        return True

    def close(self, timeout: float | None) -> bool:
        """Mark closed (the rest goes at once, retries stop after ``timeout``); False when it already was."""
        if self.closed:
            return False
        self.closed = True
        self.deadline = None if timeout is None else time.monotonic() + timeout
        return True

    def next_delivery(self) -> _Delivery | None:
        """The chunk to send now (at most ``batch_size`` events, oldest first, one batch per tenant), or None while
        no batch is due: none is full, no flush or close asks, and the oldest event has not waited its interval."""
        if self.delivery is not None:  # cut short (an async task cancelled while sending): send it again first
            return self.delivery
        late = self.oldest is not None and time.monotonic() - self.oldest >= self.flush_interval
        if not self.events or not (len(self.events) >= self.batch_size or self.flushing or self.closed or late):
            return None
        chunk = [self.events.popleft() for _ in range(min(self.batch_size, len(self.events)))]
        self.oldest = time.monotonic() if self.events else None
        self.in_flight += len(chunk)
        by_tenant: dict[uuid.UUID, list[RecordedEvent]] = {}
        for event in chunk:
            by_tenant.setdefault(event.tenant_id, []).append(event)
        self.delivery = _Delivery(list(reversed(by_tenant.values())), self.max_retry_delay, self.settle)
        return self.delivery

    def idle_for(self) -> float | None:
        """How long nothing is due unless something changes (None: until then)."""
        return None if self.oldest is None else max(0.0, self.oldest + self.flush_interval - time.monotonic())

    def answered(self, delivery: _Delivery, response: Response[IngestResult | Problem] | None) -> float:
        """Give ``delivery`` the answer to its batch; the seconds to wait before its next request (0: go on). When
        that wait would pass close()'s deadline, what is left is reported unsent instead."""
        delay = delivery.answered(response)
        if delay and self.deadline is not None and time.monotonic() + delay > self.deadline:
            delivery.give_up()
            delay = 0.0
        if delivery.next_batch() is None:
            self.delivery = None
        return delay

    def settle(self, events: Sequence[RecordedEvent], problem: Problem | None, sent: bool) -> None:
        self.in_flight -= len(events)
        self.settled += len(events)
        if sent:
            self.sent += len(events)
            return
        self.failed += len(events)
        try:
            self.on_error(events, problem)
        except Exception:  # a failing callback must not stop the sending of every later event
            logger.exception("tally recorder: on_error raised")


def new_event(
    tenant_id: uuid.UUID | str,
    feature_key: str,
    quantity: int,
    dimensions: Mapping[str, str] | None,
    timestamp: dt.datetime | None,
    idempotency_key: str | None,
) -> RecordedEvent:
    """The event as it will be sent, every time: its key and timestamp are fixed now."""
    if timestamp is not None and timestamp.utcoffset() is None:
        raise ValueError("timestamp must carry a time zone (Tally refuses a zone-less timestamp)")
    event = UsageEventIn(
        feature_key=feature_key,
        quantity=quantity,
        idempotency_key=idempotency_key or f"rec-{uuid.uuid4().hex}",
        timestamp=timestamp or dt.datetime.now(dt.UTC),
        dimensions=UsageEventInDimensions.from_dict(dimensions) if dimensions else UNSET,
    )
    return RecordedEvent(uuid.UUID(str(tenant_id)), event)


class _Recorder:
    """The settings and counts both recorders share."""

    def __init__(
        self,
        client: AuthenticatedClient,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_buffered: int = 100_000,
        when_full: Literal["block", "drop"] = "block",
        on_error: ErrorHandler = log_error,
        max_retry_delay: float = 30.0,
        exit_timeout: float = 30.0,
    ) -> None:
        self._client = client
        self._state = _Buffer(batch_size, flush_interval, max_buffered, when_full, max_retry_delay, on_error)
        self._exit_timeout = exit_timeout
        self._begin()

    def _begin(self) -> None:
        """Start sending (a thread, or nothing until an event loop runs)."""

    @property
    def dropped(self) -> int:
        """Events not recorded because the buffer was full (``when_full="drop"``)."""
        return self._state.dropped

    @property
    def sent(self) -> int:
        """Events the server acknowledged (newly stored or already known)."""
        return self._state.sent

    @property
    def failed(self) -> int:
        """Events handed to ``on_error``: refused, or unsent when ``close`` ran out of time."""
        return self._state.failed


class Recorder(_Recorder):
    """Records usage from any number of threads; a background thread sends it in batches.

    ``record`` returns at once. A batch goes when ``batch_size`` events wait, when the oldest has waited
    ``flush_interval`` seconds, on ``flush()`` and on ``close()`` (also by ``with``, and at interpreter exit, when
    up to ``exit_timeout`` seconds are spent sending what is left). Timeouts, connection errors, 429, 5xx and 503
    are retried with backoff (honouring ``Retry-After``, at most ``max_retry_delay`` seconds apart) for as long as
    the recorder is open; a 4xx about the events' content is not retried: those events go to ``on_error`` with the
    problem (the rest of their batch is sent again). At most ``max_buffered`` events wait (sent or not); when
    that many do, ``record`` blocks until there is room (``when_full="block"``) or drops the event and counts it
    in ``dropped`` (``"drop"``).
    """

    def _begin(self) -> None:
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="tally-recorder", daemon=True)
        self._thread.start()
        # The thread is a daemon (a non-daemon one would keep the interpreter from ever reaching atexit); so the
        # buffered events are sent from here before the interpreter goes.
        atexit.register(self._close_at_exit)

    def record(
        self,
        tenant_id: uuid.UUID | str,
        feature_key: str,
        quantity: int,
        *,
        dimensions: Mapping[str, str] | None = None,
        timestamp: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Buffer one event (timestamp: now, key: a new UUID, unless given). False when it was dropped."""
        event = new_event(tenant_id, feature_key, quantity, dimensions, timestamp, idempotency_key)
        with self._changed:
            self._changed.wait_for(lambda: not self._state.must_wait())
            admitted = self._state.admit(event)
            self._changed.notify_all()
        return admitted

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything recorded so far; True once all of it is settled (sent or reported), False on timeout."""
        with self._changed:
            target = self._state.recorded
            self._state.flushing = True
            self._changed.notify_all()
            done = self._changed.wait_for(lambda: self._state.settled >= target, timeout)
            self._state.flushing = False
            return done

    def close(self, timeout: float | None = None) -> None:
        """Send what is buffered and stop. With a ``timeout``, events still unsent then go to ``on_error``."""
        with self._changed:
            closing = self._state.close(timeout)
            self._changed.notify_all()
        if closing:
            self._thread.join()
            atexit.unregister(self._close_at_exit)

    def _close_at_exit(self) -> None:
        self.close(self._exit_timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> None:
        state = self._state
        while True:
            with self._changed:
                while (delivery := state.next_delivery()) is None:
                    if state.closed and not state.events:
                        return
                    self._changed.wait(state.idle_for())
            while (batch := delivery.next_batch()) is not None:
                try:
                    response = record_usage_events.sync_detailed(
                        batch[0].tenant_id, client=self._client, body=_body(batch)
                    )
                except (httpx.TransportError, ValueError, KeyError) as exc:  # no answer, or one that is not Tally's
                    _log_retry(delivery, exc)
                    response = None
                with self._changed:
                    delay = state.answered(delivery, response)
                    self._changed.notify_all()
                    # Wait before the next try, but wake when close() sets a deadline, to judge the wait by it.
                    deadline = state.deadline
                    self._changed.wait_for(lambda: state.deadline != deadline, delay)


class AsyncRecorder(_Recorder):
    """``Recorder`` for asyncio: a task sends the batches. ``await record(...)`` returns at once unless the buffer
    is full and ``when_full="block"``. Use ``async with`` or ``await close()``; if the event loop ends first (the
    end of ``asyncio.run``), the task sends what is left before it goes, for up to ``exit_timeout`` seconds."""

    _changed: asyncio.Condition | None = None  # made in the event loop that runs the recorder, with the task
    _task: asyncio.Task[None] | None = None

    def _started(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
            self._task = asyncio.get_running_loop().create_task(self._run(self._changed), name="tally-recorder")
        return self._changed

    async def record(
        self,
        tenant_id: uuid.UUID | str,
        feature_key: str,
        quantity: int,
        *,
        dimensions: Mapping[str, str] | None = None,
        timestamp: dt.datetime | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Buffer one event (timestamp: now, key: a new UUID, unless given). False when it was dropped."""
        event = new_event(tenant_id, feature_key, quantity, dimensions, timestamp, idempotency_key)
        changed = self._started()
        async with changed:
            await changed.wait_for(lambda: not self._state.must_wait())
            admitted = self._state.admit(event)
            changed.notify_all()
        return admitted

    async def flush(self, timeout: float | None = None) -> bool:
        """Send everything recorded so far; True once all of it is settled (sent or reported), False on timeout."""
        changed = self._started()
        async with changed:
            target = self._state.recorded
            self._state.flushing = True
            changed.notify_all()
            try:
                async with asyncio.timeout(timeout):
                    await changed.wait_for(lambda: self._state.settled >= target)
            except TimeoutError:
                return False
            finally:
                self._state.flushing = False
            return True

    async def close(self, timeout: float | None = None) -> None:
        """Send what is buffered and stop. With a ``timeout``, events still unsent then go to ``on_error``."""
        changed = self._started()
        async with changed:
            self._state.close(timeout)
            changed.notify_all()
        if self._task is not None:
            await self._task

    async def __aenter__(self) -> Self:
        self._started()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _run(self, changed: asyncio.Condition) -> None:
        try:
            await self._send_until_closed(changed)
        except asyncio.CancelledError:  # the loop is ending (asyncio.run cancels what is left): send, then go
            self._state.close(self._exit_timeout)
            await self._send_until_closed(changed)
            raise

    async def _send_until_closed(self, changed: asyncio.Condition) -> None:
        state = self._state
        while True:
            async with changed:
                while (delivery := state.next_delivery()) is None:
                    if state.closed and not state.events:
                        return
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(state.idle_for()):
                            await changed.wait()
            while (batch := delivery.next_batch()) is not None:
                try:
                    response = await record_usage_events.asyncio_detailed(
                        batch[0].tenant_id, client=self._client, body=_body(batch)
                    )
                except (httpx.TransportError, ValueError, KeyError) as exc:  # no answer, or one that is not Tally's
                    _log_retry(delivery, exc)
                    response = None
                async with changed:
                    delay = state.answered(delivery, response)
                    changed.notify_all()
                await asyncio.sleep(delay)


def _log_retry(delivery: _Delivery, exc: Exception) -> None:
    """A warning for a batch's first failure; its further retries only at debug level."""
    level = logging.WARNING if delivery.attempt == 0 else logging.DEBUG
    logger.log(level, "tally recorder: sending failed, will retry: %r", exc)


def _body(batch: Sequence[RecordedEvent]) -> UsageBatch:
    return UsageBatch(events=[e.event for e in batch])
