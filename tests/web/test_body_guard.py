"""bot.web.body_guard: request bodies aiohttp 3.9.5 would inflate or parse dangerously are
refused before any handler (and before sign-in), on every route of the web app."""

from __future__ import annotations

import asyncio
import threading
import zlib
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.web.app import create_app
from bot.web.body_guard import MAX_BODY_BYTES
from tests.support.staff import csrf_of

BOMB_BYTES = 200 * 1024 * 1024  # of zeros, a couple of hundred kB gzipped
MARGIN_KB = 24 * 1024


def gzip_bomb(size: int = BOMB_BYTES) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip
    chunk = bytes(1024 * 1024)
    return b"".join(packer.compress(chunk) for _ in range(size // len(chunk))) + packer.flush()


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class PeakRss:
    """The highest VmRSS seen while the block runs (sampled every millisecond)."""

    def __enter__(self) -> "PeakRss":
        self.before = self.peak = rss_kb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, rss_kb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = rss_kb()
        self.peak = max(self.peak, self.after)


async def test_a_gzip_bomb_at_the_login_form_is_refused_without_inflating_it(seeded, web_settings):
    bomb = gzip_bomb()
    assert len(bomb) < MAX_BODY_BYTES * 8
    async with TestClient(TestServer(create_app(web_settings))) as client:
        token = await csrf_of(client, "/staff/login")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Encoding": "gzip",
            "X-CSRF-Token": token,
        }
        with PeakRss() as memory:
            for _ in range(3):
                response = await client.post("/staff/login", data=bomb, headers=headers)
                assert response.status == 415, response.status
                assert "compressed request bodies" in await response.text()
            await asyncio.sleep(0.2)
        assert memory.peak - memory.before < MARGIN_KB, (memory.before, memory.peak)
        assert memory.after - memory.before < MARGIN_KB
        # a small compressed body is refused the same way, deflate and br too
        for coding in ("deflate", "br", "gzip, identity"):
            response = await client.post(
                "/staff/login", data=b"x", headers={**headers, "Content-Encoding": coding}
            )
            assert response.status == 415
        # and the form still works as it should
        response = await client.post(
            "/staff/login",
            data={"username": "nobody", "password": "x" * 12, "csrf_token": token},
        )
        assert response.status == 401


async def test_oversized_multipart_and_chunked_bodies_are_refused(seeded, web_settings):
    async with TestClient(TestServer(create_app(web_settings))) as client:
        token = await csrf_of(client, "/staff/login")
        # a declared length over the limit: refused before a byte is read
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(
            b"POST /staff/login HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 1000000000\r\n\r\nusername=a"
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 5)
        assert b" 413 " in status_line
        assert await asyncio.wait_for(reader.read(), 5) is not None  # then closed
        writer.close()

        # multipart: no route takes it
        response = await client.post(
            "/staff/login",
            data=b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
            headers={"Content-Type": "multipart/form-data; boundary=b", "X-CSRF-Token": token},
        )
        assert response.status == 415

        # chunked: read up to the limit, refused past it
        async def chunks(total: int):
            for _ in range(total // 4096):
                yield b"a" * 4096

        response = await client.post(
            "/staff/login",
            data=chunks(MAX_BODY_BYTES * 4),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRF-Token": token,
            },
        )
        assert response.status == 413
        small = await client.post(
            "/staff/login",
            data=chunks(8192),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRF-Token": token,
            },
        )
        assert small.status == 400  # read, passed on: no user name or password in it
        odd = await client.post(
            "/staff/login", data=b"a=1", headers={"Transfer-Encoding": "gzip, chunked"}
        )
        assert 400 <= odd.status < 500


async def test_every_route_refuses_compressed_bodies(seeded, web_settings):
    from tests.support.staff import all_routes

    app = create_app(web_settings)
    async with TestClient(TestServer(app)) as client:
        for route in all_routes(app):
            if not route.resource or route.method == "HEAD":
                continue
            path = route.resource.canonical.replace("{", "").replace("}", "")
            response = await client.request(
                "POST" if route.method == "*" else route.method,
                path,
                data=zlib.compress(b"a=1"),
                headers={"Content-Encoding": "deflate"},
                allow_redirects=False,
            )
            assert response.status == 415, (route.method, path, response.status)
