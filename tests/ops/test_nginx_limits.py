"""nginx of the production profile limits each client address on the public Rasa API
(limit_req, limit_conn): a burst gets 429 with Retry-After and a JSON message, in Chinese for a
browser that prefers it, while another address is served. Real nginx in front of a stub Rasa."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, Tuple

import pytest

from bot.config import Settings
from bot.ops import nginx, prod
from tests.support.stack import free_port

FALLBACK = prod.fallback_response("Please call the study team.")


def profile(tmp_path, rasa_port: int = 5101) -> prod.Profile:
    found = prod.Profile.from_settings(Settings(var_dir=tmp_path))
    found.var_dir = tmp_path
    found.public_port, found.action_port = free_port(), free_port()
    found.rasa_port_list, found.action_port_list = [rasa_port], [free_port()]
    return found


def test_the_generated_config_limits_the_public_api(tmp_path):
    settings = Settings(prod_public_rate=7, prod_public_burst=9, prod_public_connections=11)
    config = nginx.nginx_config(profile(tmp_path), FALLBACK, settings)
    assert "limit_req_zone $binary_remote_addr zone=rasa_public:10m rate=7r/s;" in config
    assert "limit_conn_zone $binary_remote_addr zone=rasa_connections:10m;" in config
    assert "limit_req_status 429;" in config and "limit_conn_status 429;" in config
    for location in ("location / {", "location /socket.io/ {"):
        block = config[config.index(location) :]
        block = block[: block.index("}")]
        assert "limit_req zone=rasa_public burst=9 nodelay;" in block, location
        assert "limit_conn rasa_connections 11;" in block, location
        # The replicas must still learn the client's address (their own limits use it).
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in block
    assert "error_page 429 = @too_many;" in config and "add_header Retry-After" in config
    assert "您发送消息太快了" in config and "too quickly" in config
    # The action endpoint (only Rasa calls it) is not limited.
    actions = config[config.index("location = /health") :]
    assert "limit_req " not in actions and "limit_conn " not in actions


def test_limits_can_be_turned_off(tmp_path):
    settings = Settings(prod_public_rate=0, prod_public_connections=0)
    config = nginx.nginx_config(profile(tmp_path), FALLBACK, settings)
    assert "limit_req " not in config and "limit_conn " not in config


class StubRasa(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps([{"recipient_id": "x", "text": "ok"}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def limited_nginx(tmp_path) -> Iterator[int]:
    nginx.nginx_binary()  # fails with how to install it
    stub = ThreadingHTTPServer(("127.0.0.1", 0), StubRasa)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    found = profile(tmp_path, stub.server_address[1])
    settings = Settings(prod_public_rate=1, prod_public_burst=3, prod_public_connections=5)
    config = nginx.write_nginx_config(found, FALLBACK, settings)
    checked = subprocess.run(nginx.nginx_command(config) + ["-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(nginx.nginx_command(config), stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", found.public_port)) == 0:
                    break
            time.sleep(0.05)
        yield found.public_port
    finally:
        process.terminate()
        process.wait(timeout=10)
        stub.shutdown()


def post(port: int, source: str, headers: Dict[str, str]) -> Tuple[int, Dict, Dict[str, str]]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request(
            "POST",
            "/webhooks/rest/webhook",
            body=b'{"sender": "a", "message": "hi"}',
            headers={"Content-Type": "application/json", **headers},
        )
        response = connection.getresponse()
        body = response.read()
        return response.status, json.loads(body), dict(response.getheaders())
    finally:
        connection.close()


def test_a_burst_from_one_address_gets_429_while_another_is_served(limited_nginx):
    results = [post(limited_nginx, "127.0.0.2", {}) for _ in range(8)]
    statuses = [status for status, _, _ in results]
    assert statuses[:4] == [200] * 4 and 429 in statuses[4:], statuses  # 1 + burst of 3
    status, body, headers = next(r for r in results if r[0] == 429)
    assert headers["Retry-After"] == "1" and headers["Content-Type"] == "application/json"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "too quickly" in body["message"]
    zh = post(limited_nginx, "127.0.0.2", {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert zh[0] == 429 and "太快" in zh[1]["message"]
    assert post(limited_nginx, "127.0.0.3", {})[0] == 200  # another address is served
