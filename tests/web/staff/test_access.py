"""Staff console access: sign-in required everywhere, CSRF on every POST, sign-in throttling,
session cookie flags, logout, admin-only audit log — on SQLite and PostgreSQL."""

import logging
import re

import pytest
from sqlalchemy import select
from yarl import URL

from bot.console import accounts as staff_accounts
from bot.console.models import AuditLog, LoginThrottle
from bot.web.staff import security
from tests.support import unit_of_work
from tests.support.staff import PASSWORD, add_staff, all_routes, csrf_of, login, signed_in


def staff_routes(app):
    """(method, path with sample parameters) of every /staff route."""
    out = []
    for route in all_routes(app):
        path = route.resource.canonical if route.resource else ""
        if path == "/staff" or path.startswith("/staff/"):
            out.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return sorted(set(out))


PUBLIC = {("GET", "/staff/login"), ("HEAD", "/staff/login"), ("POST", "/staff/login")}


def audit_rows(database_url, action=None):
    with unit_of_work(database_url) as session:
        query = select(AuditLog).order_by(AuditLog.id)
        if action:
            query = query.where(AuditLog.action == action)
        return [(r.username, r.action, r.target, r.detail) for r in session.scalars(query)]


async def test_every_staff_route_refuses_anonymous_requests(client):
    routes = staff_routes(client.server.app)
    assert len(routes) >= 30  # GET/HEAD/POST of the console's pages and API
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        response = await client.request(method, path, allow_redirects=False)
        if method == "POST":
            assert response.status == 401, (method, path)
        elif path.startswith("/staff/api/"):
            assert response.status == 401, (method, path)
            if method == "GET":
                assert await response.json() == {"error": "sign-in required"}
        else:
            assert response.status == 302, (method, path, response.status)
            assert response.headers["Location"].startswith("/staff/login?next="), (method, path)
        # JSON clients get 401 on pages too
        if method == "GET":
            response = await client.get(
                path, headers={"Accept": "application/json"}, allow_redirects=False
            )
            assert response.status == 401, (method, path)


async def test_unknown_staff_paths_and_other_areas(client):
    response = await client.get("/staff/nothing-here", allow_redirects=False)
    assert response.status == 302  # nothing about the console is shown before sign-in
    health = await client.get("/health")
    assert health.status == 200
    assert "Set-Cookie" not in health.headers
    assert "frame-ancestors 'none'" not in health.headers.get("Content-Security-Policy", "")


async def test_login_page_sets_a_hardened_session_cookie(client):
    response = await client.get("/staff/login")
    assert response.status == 200
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{security.COOKIE_NAME}=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/staff" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    client.session.cookie_jar.clear()
    proxied = await client.get("/staff/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in proxied.headers["Set-Cookie"]
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src" not in csp  # no scripts at all
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


async def test_cookie_secure_setting(web_settings):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import create_app

    app = create_app(web_settings.copy(update={"staff_cookie_secure": True}))
    async with TestClient(TestServer(app)) as test_client:
        response = await test_client.get("/staff/login")
        assert "Secure" in response.headers["Set-Cookie"]


def test_session_key_setting(caplog):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    assert security.session_key(key) == key.encode()
    with pytest.raises(ValueError, match="STAFF_SESSION_KEY"):
        security.session_key("too-short")
    with caplog.at_level(logging.WARNING, logger="bot.staff"):
        Fernet(security.session_key(""))
    assert "sessions will not survive a restart" in caplog.text


async def test_sign_in_and_out(client, database_url):
    add_staff(database_url, "alice")
    response = await client.get("/staff/conversations/7", allow_redirects=False)
    location = URL(response.headers["Location"])
    assert location.path == "/staff/login" and location.query["next"] == "/staff/conversations/7"
    token = await csrf_of(client, "/staff/login")
    response = await client.post(
        "/staff/login",
        data={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/staff/queue",
        },
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/staff/queue"
    page = await client.get("/staff/queue")
    assert page.status == 200 and "alice" in await page.text()
    new_token = await csrf_of(client)
    assert new_token != token  # a fresh session (and token) after sign-in
    response = await client.post(
        "/staff/logout", data={"csrf_token": new_token}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/staff/login"
    response = await client.get("/staff/queue", allow_redirects=False)
    assert response.status == 302
    assert [a for _, a, _, _ in audit_rows(database_url)] == ["login", "view_queue", "logout"]


async def test_login_never_redirects_off_site(client, database_url):
    add_staff(database_url, "alice")
    token = await csrf_of(client, "/staff/login")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        await client.post("/staff/logout", data={"csrf_token": token})
        token = await csrf_of(client, "/staff/login")
        response = await client.post(
            "/staff/login",
            data={"username": "alice", "password": PASSWORD, "csrf_token": token, "next": target},
            allow_redirects=False,
        )
        assert response.headers["Location"] == "/staff/conversations"
        token = await csrf_of(client)


async def test_csrf_is_required_on_every_post(client, database_url):
    token = await signed_in(client, database_url, "alice", "admin")
    posts = [path for method, path in staff_routes(client.server.app) if method == "POST"]
    assert len(posts) >= 12
    for path in posts:
        missing = await client.post(path, data={"status": "closed"}, allow_redirects=False)
        assert missing.status == 403, path
        assert "CSRF token missing" in await missing.text()
        wrong = await client.post(
            path, data={"csrf_token": token[:-2] + "xx"}, allow_redirects=False
        )
        assert wrong.status == 403, path
        assert "CSRF token invalid" in await wrong.text()
        header = await client.post(path, headers={"X-CSRF-Token": "nope"}, allow_redirects=False)
        assert header.status == 403, path
    # the header works as well as the form field
    response = await client.post(
        "/staff/logout", headers={"X-CSRF-Token": token}, allow_redirects=False
    )
    assert response.status == 303


async def test_login_needs_the_csrf_token_too(client, database_url):
    add_staff(database_url, "alice")
    await client.get("/staff/login")
    response = await client.post("/staff/login", data={"username": "alice", "password": PASSWORD})
    assert response.status == 403
    assert (await client.get("/staff/conversations", allow_redirects=False)).status == 302


async def test_failed_sign_ins_are_slowed_locked_and_logged(
    client, database_url, monkeypatch, caplog
):
    monkeypatch.setattr(staff_accounts, "FAILURE_DELAY_STEP", 0.01)
    add_staff(database_url, "alice")
    with caplog.at_level(logging.WARNING):
        for attempt in range(1, staff_accounts.PAIR_FREE_FAILURES + 1):
            response = await login(client, "alice", "wrong password", expect=401)
            assert "Wrong user name or password" in await response.text()
            assert staff_accounts.failure_delay(attempt) == pytest.approx(0.01 * attempt)
        response = await login(client, "alice", "wrong again", expect=401)  # 6th: now locked
        # while locked even the right password is refused, with Retry-After
        locked = await login(client, "alice", PASSWORD, expect=429)
        assert "Too many failed sign-ins" in await locked.text()
        assert int(locked.headers["Retry-After"]) > 0
    assert "failed staff sign-in for 'alice'" in caplog.text
    assert "sign-in refused for 'alice'" in caplog.text
    actions = [a for _, a, _, _ in audit_rows(database_url)]
    assert actions.count("login_failed") == 6 and actions.count("login_locked") == 1
    assert "login" not in actions
    # the lock is per user name: another account still signs in from the same address
    add_staff(database_url, "bob")
    await login(client, "bob")
    # the lock grows with further failures and ends
    with unit_of_work(database_url) as session:
        first = staff_accounts.locked_for(session, "alice", "127.0.0.1")
        staff_accounts.record_failure(session, "alice", "127.0.0.1")
    with unit_of_work(database_url) as session:
        assert staff_accounts.locked_for(session, "alice", "127.0.0.1") > first
        row = session.get(LoginThrottle, "pair:alice|127.0.0.1")
        row.locked_until = row.last_failure_at  # time passes
    await client.post("/staff/logout", data={"csrf_token": await csrf_of(client)})
    await login(client, "alice")  # and a success clears the user's counters
    with unit_of_work(database_url) as session:
        assert session.get(LoginThrottle, "pair:alice|127.0.0.1") is None
        assert session.get(LoginThrottle, "user:alice") is None
        assert session.get(LoginThrottle, "ip:127.0.0.1").failures == 7  # 9 attempts, 2 good


async def test_unknown_users_fail_like_wrong_passwords(client, database_url, monkeypatch):
    monkeypatch.setattr(staff_accounts, "FAILURE_DELAY_STEP", 0.0)
    response = await login(client, "nobody", "whatever pass", expect=401)
    assert "Wrong user name or password" in await response.text()
    assert audit_rows(database_url, "login_failed")[0][:3] == (
        "nobody",
        "login_failed",
        "staff:nobody",
    )


async def test_audit_log_is_for_admins_only(client, database_url):
    token = await signed_in(client, database_url, "coord", "coordinator")
    response = await client.get("/staff/audit")
    assert response.status == 403 and "administrators only" in await response.text()
    page = await client.get("/staff/conversations")
    assert 'href="/staff/audit"' not in await page.text()
    await client.post("/staff/logout", data={"csrf_token": token})
    await signed_in(client, database_url, "admin", "admin")
    response = await client.get("/staff/audit")
    assert response.status == 200
    body = await response.text()
    assert "coord" in body and "login" in body and "logout" in body
    filtered = await client.get("/staff/audit?user=coord&action=login")
    assert "staff:coord" in await filtered.text()
    assert audit_rows(database_url, "view_audit")


async def test_changed_password_ends_existing_sessions(client, database_url):
    add_staff(database_url, "alice")
    await login(client, "alice")
    assert (await client.get("/staff/conversations")).status == 200
    import time

    time.sleep(1.1)
    with unit_of_work(database_url) as session:
        staff_accounts.add_user(session, "alice", "another long password", update=True)
    response = await client.get("/staff/conversations", allow_redirects=False)
    assert response.status == 302


def test_accounts_validation(database_url):
    with unit_of_work(database_url) as session:
        with pytest.raises(staff_accounts.AccountError, match="at least 10"):
            staff_accounts.add_user(session, "alice", "short")
        with pytest.raises(staff_accounts.AccountError, match="role"):
            staff_accounts.add_user(session, "alice", PASSWORD, role="root")
        with pytest.raises(staff_accounts.AccountError, match="user names"):
            staff_accounts.add_user(session, "<script>", PASSWORD)
        user = staff_accounts.add_user(session, "Alice", PASSWORD)
        assert user.password_hash.startswith("$argon2id$")
        with pytest.raises(staff_accounts.AccountError, match="already exists"):
            staff_accounts.add_user(session, "alice", PASSWORD)
    with unit_of_work(database_url) as session:
        assert staff_accounts.verify(session, "ALICE", PASSWORD).username == "Alice"
        assert staff_accounts.verify(session, "alice", "wrong password") is None
