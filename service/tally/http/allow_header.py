"""The ``Allow`` header of automatic ``OPTIONS`` answers, corrected.

Litestar 2.25 answers ``OPTIONS`` on a path served by several handlers (``GET`` and ``POST`` of
``/usage-events``) with the methods of the first handler only (litestar-org/litestar#4169, fixed in 3.0):
its generated handler reads the methods of a route object that a later handler replaced. A ``before_send``
hook puts the route's real methods in the header. Remove this module when moving to Litestar 3.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

BeforeSend = Callable[[Message, Scope], Awaitable[None]]


def allow_header_fix() -> tuple[BeforeSend, Callable[[Litestar], None]]:
    """``(hook, learn)``: pass ``hook`` as a ``before_send`` hook, then call ``learn(app)`` once the app exists."""
    allowed: dict[str, str] = {}

    async def hook(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
            return
        methods = allowed.get(str(scope.get("path_template")))
        headers = MutableScopeHeaders.from_message(message)
        if methods is not None and "allow" in headers:
            headers["Allow"] = methods

    def learn(app: Litestar) -> None:
        allowed.update(
            {
                route.path_format: ", ".join(sorted(route.methods))
                for route in app.routes
                if isinstance(route, HTTPRoute)
            }
        )

    return hook, learn
