"""A route that asks for a permission always has it checked: an app whose layer would replace the check is refused."""

from __future__ import annotations

import pytest
from litestar import Controller, Litestar, Request, get
from litestar.exceptions import ImproperlyConfiguredException

from tally.http.auth import Permission, check_permission, check_permissions_are_checked, requires


async def note(_: Request) -> None:  # a controller's own before_request hook
    return None


class Guarded(Controller):
    path = "/guarded"

    @get("/", opt=requires(Permission.READ_USAGE))
    async def read(self) -> str:
        return "ok"


class OwnHook(Guarded):
    before_request = note


def test_the_apps_hook_checks_every_route_that_asks() -> None:
    check_permissions_are_checked(Litestar([Guarded], before_request=check_permission))


@pytest.mark.parametrize(
    "app",
    [
        lambda: Litestar([Guarded]),  # no hook at all
        lambda: Litestar([OwnHook], before_request=check_permission),  # a controller's hook wins over the app's
    ],
)
def test_a_route_whose_permission_would_go_unchecked_is_refused(app) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImproperlyConfiguredException, match="read asks for a permission"):
        check_permissions_are_checked(app())
