"""Sending the outbox: a task in each serving process claims due deliveries, signs and posts them, and records
each attempt. Several processes share the work through the database (see ``DeliveryRepository.claim``), and a
restart loses nothing: a delivery leaves the outbox only when an attempt's outcome is recorded."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from tally import metrics
from tally.background import Periodic
from tally.db.repositories import DeliveryRepository
from tally.db.repositories.webhooks import Claimed
from tally.db.transaction import Transaction
from tally.domain.webhooks import DeliveryStatus
from tally.webhooks import retries
from tally.webhooks.targets import private_address

logger = logging.getLogger("tally.webhooks")

TIMEOUT = timedelta(seconds=10)
"""A 2xx within this time is a success; the whole attempt (resolve, connect, send, answer) is bounded by it."""
LEASE = timedelta(seconds=60)
"""How long a claimed delivery stays with its worker: longer than an attempt can take, so that no two workers
send it at once; a worker that dies leaves it due again when the lease ends."""
CLAIM_BATCH = 20
MAX_ERROR = 200


class Outcome:
    def __init__(self, status_code: int | None, error: str | None, seconds: float, *, timed_out: bool = False) -> None:
        self.status_code, self.error, self.seconds, self.timed_out = status_code, error, seconds, timed_out

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def label(self) -> str:
        """The ``outcome`` label of the attempts metric."""
        if self.status_code is not None:
            return "delivered" if self.delivered else "rejected"
        return "timeout" if self.timed_out else "unreachable"


@functools.cache
def tls() -> ssl.SSLContext:
    """The TLS settings of every delivery client of the process (httpx's defaults: the CA bundle, verified). Made
    once: reading the CA bundle costs about 20 ms of CPU, which each client (one per app start) paid again."""
    return httpx.create_ssl_context()


class Deliverer:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        allow_private: bool,
        retry_for: timedelta,
        retry_base: timedelta,
        poll_seconds: float,
        timeout: timedelta = TIMEOUT,
        lease: timedelta = LEASE,
    ) -> None:
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.allow_private = allow_private
        self.retry_for, self.retry_base, self.poll_seconds = retry_for, retry_base, poll_seconds
        self.timeout_seconds, self.lease = timeout.total_seconds(), lease
        self.client = httpx.AsyncClient(verify=tls())  # replaced in start(): a client belongs to the serving event loop
        self.rounds = Periodic("tally-webhook-delivery", self.round, poll_seconds)

    async def start(self) -> None:
        # No redirects: a receiver could otherwise send Tally on to a private address.
        self.client = httpx.AsyncClient(verify=tls(), timeout=self.timeout_seconds, follow_redirects=False)
        await self.rounds.start()

    async def stop(self) -> None:
        await self.rounds.stop()
        await self.client.aclose()

    async def round(self) -> bool:
        """One round; whether it attempted any delivery (then the next round starts at once)."""
        try:
            return await self.deliver_due() > 0
        except (sa_exc.SQLAlchemyError, OSError) as exc:  # the database is away: try again next round
            logger.warning("webhook delivery round failed (%s)", type(exc).__name__)
            return False

    async def deliver_due(self) -> int:
        """One round: claim the due deliveries, attempt each, record the outcomes; how many were attempted."""
        now = datetime.now(UTC)
        async with self.sessions() as session:
            pending, due = await DeliveryRepository(session).backlog(now)
        metrics.WEBHOOKS_PENDING.set(pending)
        if not due:
            return 0
        # A session of its own: its first statement must start the write transaction (the claim's row locks).
        async with self.sessions() as session:
            deliveries, transaction = DeliveryRepository(session), Transaction(session)
            await transaction.begin_write()
            claimed = await deliveries.claim(now, now + self.lease, CLAIM_BATCH)
            await transaction.commit()
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self.attempt(c) for c in claimed))
        async with self.sessions() as session:
            deliveries, transaction = DeliveryRepository(session), Transaction(session)
            await transaction.begin_write()
            statuses = [
                await self._record(deliveries, c, outcome) for c, outcome in zip(claimed, outcomes, strict=True)
            ]
            await transaction.commit()
        # Counted once recorded: outcomes lost with an uncommitted round are attempted, and counted, again.
        for outcome, status in zip(outcomes, statuses, strict=True):
            metrics.count_webhook_attempt(outcome.label, outcome.seconds)
            if status is DeliveryStatus.DELIVERED:
                metrics.WEBHOOKS_DELIVERED.inc()
            elif status is DeliveryStatus.FAILED:
                metrics.WEBHOOKS_FAILED.inc()
        return len(claimed)

    async def _record(self, deliveries: DeliveryRepository, claimed: Claimed, outcome: Outcome) -> DeliveryStatus:
        record, now = claimed.record, datetime.now(UTC)
        attempt = {"at": now.isoformat(), "status_code": outcome.status_code, "error": outcome.error}
        if outcome.delivered:
            status, next_at = DeliveryStatus.DELIVERED, None
        else:
            failures = len(record.attempts) + 1
            next_at = retries.next_attempt(failures, record.created_at, now, self.retry_for, self.retry_base)
            status = DeliveryStatus.PENDING if next_at is not None else DeliveryStatus.FAILED
        await deliveries.record_attempt(record.tenant_id, record.id, attempt, status, next_at)
        logger.info(
            "webhook delivery %s attempt %d: %s",
            record.id,
            len(record.attempts) + 1,
            outcome.status_code if outcome.status_code is not None else outcome.error,
        )
        return status

    async def attempt(self, claimed: Claimed) -> Outcome:
        """POST the message, signed for this attempt; never raises for what the receiver or network does."""
        record = claimed.record
        started = time.perf_counter()
        at = datetime.now(UTC)
        headers = {
            "webhook-id": record.message_id,  # the same on every attempt: receivers dedupe on it
            "webhook-timestamp": str(int(at.timestamp())),
            # Standard Webhooks: several signatures, space-separated; a receiver accepts the message when any
            # of them verifies with its secret. After a rotation both secrets sign until the old one expires.
            "webhook-signature": " ".join(
                Webhook(secret).sign(record.message_id, at, record.payload) for secret in claimed.secrets(at)
            ),
            "content-type": "application/json",
            "user-agent": "Tally-Webhooks",
        }
        try:
            async with asyncio.timeout(self.timeout_seconds):
                if not self.allow_private:
                    await self._check_resolved(claimed.url)
                response = await self.client.post(claimed.url, content=record.payload.encode(), headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            seconds = time.perf_counter() - started
            return Outcome(None, f"no answer within {self.timeout_seconds:g} s", seconds, timed_out=True)
        except (httpx.HTTPError, OSError, RefusedTarget) as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR], time.perf_counter() - started)
        return Outcome(response.status_code, None, time.perf_counter() - started)

    async def _check_resolved(self, url: str) -> None:
        """Refuse a name that resolves to a private address (the URL's text was checked when it was created)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        if any(private_address(str(info[4][0]).split("%")[0]) for info in infos):
            raise RefusedTarget(f"{host} resolves to a loopback, private or link-local address")


class RefusedTarget(Exception):
    """The endpoint's host resolves to an address Tally does not send to."""
