"""Work a serving process runs beside its requests: a periodic task with a clean start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger("tally")


class Periodic:
    """Runs ``step`` over and over in a task of its own: again at once when it did some work (it returned True),
    after ``interval`` seconds when it did none. ``step`` handles the failures it expects; one it lets through
    ends the task, and is logged with its traceback rather than lost with the task."""

    def __init__(self, name: str, step: Callable[[], Awaitable[bool]], interval: float) -> None:
        self.name, self.step, self.interval = name, step, interval
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=self.name)
        self.task.add_done_callback(self._ended)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):  # the cancellation we asked for
                await self.task
            self.task = None

    async def _run(self) -> None:
        while True:
            if not await self.step():
                await asyncio.sleep(self.interval)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s stopped", self.name, exc_info=task.exception())
