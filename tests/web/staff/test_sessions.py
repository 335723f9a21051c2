"""Sign-in throttling that parallel guesses cannot race, keyed per user name and real client
address; server-side sessions that end at sign-out (a replayed cookie is refused) and when a
user is disabled; `staff disable|enable` — on SQLite and PostgreSQL."""

import asyncio
import io
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.cli import main
from bot.console import accounts as staff_accounts
from bot.web.app import create_app
from bot.web.staff import security
from tests.support import unit_of_work
from tests.support.staff import PASSWORD, add_staff, csrf_of, login

GUESSES = 30


class CountingHasher:
    """argon2's hasher, counting the passwords it actually verifies."""

    def __init__(self, real):
        self.real, self.verified = real, 0

    def verify(self, hashed, password):
        self.verified += 1
        return self.real.verify(hashed, password)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def hasher(monkeypatch):
    counting = CountingHasher(staff_accounts._hasher)
    monkeypatch.setattr(staff_accounts, "_hasher", counting)
    monkeypatch.setattr(staff_accounts, "FAILURE_DELAY_STEP", 0.0)
    return counting


async def guess(client, token, name, password, headers=None):
    response = await client.post(
        "/staff/login",
        data={"username": name, "password": password, "csrf_token": token},
        headers=headers or {},
        allow_redirects=False,
    )
    return response.status


async def test_parallel_wrong_guesses_cannot_pass_the_lock_together(client, database_url, hasher):
    add_staff(database_url, "alice")
    token = await csrf_of(client, "/staff/login")
    statuses = await asyncio.gather(
        *(guess(client, token, "alice", f"wrong guess {i}") for i in range(GUESSES))
    )
    allowed = staff_accounts.PAIR_FREE_FAILURES + 1  # the one that locks is still checked
    assert hasher.verified <= allowed, hasher.verified
    assert statuses.count(401) == hasher.verified
    assert statuses.count(429) == GUESSES - hasher.verified
    assert set(statuses) == {401, 429}


async def test_one_address_cannot_lock_a_user_out_for_everyone(web_settings, database_url, hasher):
    """Behind a trusted proxy, failures from one client address lock that address only."""
    app = create_app(web_settings.copy(update={"trusted_proxies": "127.0.0.1"}))
    add_staff(database_url, "alice")
    async with TestClient(TestServer(app)) as proxied:
        token = await csrf_of(proxied, "/staff/login")
        attacker = {"X-Forwarded-For": "203.0.113.5"}
        statuses = await asyncio.gather(
            *(guess(proxied, token, "alice", f"wrong {i}", attacker) for i in range(GUESSES))
        )
        assert statuses.count(429) >= GUESSES - staff_accounts.PAIR_FREE_FAILURES - 1
        assert await guess(proxied, token, "alice", PASSWORD, attacker) == 429
        # alice herself, from her own address (a client cannot fake it: the proxy appends)
        mine = {"X-Forwarded-For": "203.0.113.5, 198.51.100.7"}
        assert await guess(proxied, token, "alice", PASSWORD, mine) == 303
        assert (await proxied.get("/staff/conversations")).status == 200
    with unit_of_work(database_url) as session:
        assert staff_accounts.locked_for(session, "alice", "203.0.113.5")
        assert staff_accounts.locked_for(session, "alice", "198.51.100.7") is None


def session_cookie(client):
    cookies = client.session.cookie_jar.filter_cookies(client.make_url("/staff/"))
    return cookies[security.COOKIE_NAME].value


async def replay(client, cookie, path="/staff/conversations"):
    client.session.cookie_jar.clear()
    return await client.get(
        path, headers={"Cookie": f"{security.COOKIE_NAME}={cookie}"}, allow_redirects=False
    )


async def test_a_cookie_captured_before_logout_is_refused_after_it(client, database_url):
    add_staff(database_url, "alice")
    await login(client, "alice")
    captured = session_cookie(client)
    token = await csrf_of(client, "/staff/conversations")
    response = await client.post("/staff/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    refused = await replay(client, captured)
    assert refused.status == 302 and refused.headers["Location"].startswith("/staff/login")
    api = await replay(client, captured, "/staff/api/conversations")
    assert api.status == 401


async def test_a_disabled_users_cookie_is_refused(client, database_url, monkeypatch, capsys):
    add_staff(database_url, "alice")
    await login(client, "alice")
    captured = session_cookie(client)
    assert (await replay(client, captured)).status == 200  # the cookie alone is a session
    assert main(["staff", "disable", "alice"]) == 0
    assert "1 open session(s) ended" in capsys.readouterr().out
    assert (await replay(client, captured)).status == 302
    await login(client, "alice", expect=401)  # kept out

    # a new password does not quietly let a disabled user back in
    monkeypatch.setattr(sys, "stdin", io.StringIO("another long password\n"))
    assert main(["staff", "add", "alice", "--update"]) == 0
    out = capsys.readouterr().out
    assert "alice is disabled and stays disabled" in out and "staff enable alice" in out
    await login(client, "alice", "another long password", expect=401)
    assert main(["staff", "enable", "alice"]) == 0
    await login(client, "alice", "another long password")
    assert (await client.get("/staff/conversations")).status == 200
    assert main(["staff", "disable", "nobody"]) == 1
    with unit_of_work(database_url) as session:
        from sqlalchemy import select

        from bot.console.models import AuditLog

        actions = list(session.scalars(select(AuditLog.action).where(AuditLog.username == "cli")))
    assert actions == ["staff_disable", "staff_update", "staff_enable"]
