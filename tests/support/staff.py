"""Signing staff in to the console in tests."""

from __future__ import annotations

import re
import time
from typing import Any

from bot.db import database

PASSWORD = "correct horse battery"
XSS = "<script>window.__xss=1</script><b>bold</b>"


def add_staff(
    database_url: str, name: str, role: str = "coordinator", password: str = PASSWORD
) -> None:
    from bot.console.accounts import add_user

    with database(database_url).unit_of_work() as session:
        add_user(session, name, password, role)


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_of(client: Any, path: str = "/staff/conversations") -> str:
    response = await client.get(path)
    assert response.status == 200, (path, response.status)
    return CSRF_INPUT.search(await response.text()).group(1)


async def login(client: Any, name: str, password: str = PASSWORD, expect: int = 303) -> Any:
    token = await csrf_of(client, "/staff/login")
    response = await client.post(
        "/staff/login",
        data={"username": name, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == expect, (response.status, await response.text())
    return response


async def signed_in(
    client: Any, database_url: str, name: str = "coord", role: str = "coordinator"
) -> str:
    """Creates the user, signs in; returns the session's CSRF token."""
    add_staff(database_url, name, role)
    await login(client, name)
    return await csrf_of(client)


def now() -> float:
    return time.time()


def all_routes(app: Any) -> list:
    """The routes of an aiohttp app and of its sub-applications (their paths carry the prefix)."""
    from aiohttp.web_urldispatcher import PrefixedSubAppResource

    found = []
    for resource in app.router.resources():
        if isinstance(resource, PrefixedSubAppResource):
            found += all_routes(resource._app)
        else:
            found += list(resource)
    return found
