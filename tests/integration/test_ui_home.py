"""The UI: `python -m linesight_ui` serves Streamlit and its ops server; the home page shows each
service's health as the gateway reports it, and says so plainly when the gateway is down or refuses
the UI's key."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import streamlit as st
import uvicorn
from streamlit.testing.v1 import AppTest

from linesight_ui.main import HOME
from linesight_ui.metrics import PAGE_VIEWS
from tests.support.servers import free_port

pytestmark = pytest.mark.integration

UI_KEY = "lsk_ui_test_key"
SERVICES = {
    "services": [
        {
            "name": "gateway",
            "url": "http://127.0.0.1:8000",
            "status": "ready",
            "detail": "",
            "checks": {"database": {"ok": True, "ms": 1.2}, "object_store": {"ok": True, "ms": 2.0}},
        },
        {
            "name": "registry",
            "url": "http://registry:8003",
            "status": "not_ready",
            "detail": "Not ready: database did not answer.",
            "checks": {
                "database": {"ok": False, "error": "OperationalError: connection refused"},
                "object_store": {"ok": True, "ms": 3.1},
            },
            "latency_ms": 12.3,
        },
        {
            "name": "inference",
            "url": "http://inference:8001",
            "status": "unreachable",
            "detail": "ConnectError: [Errno 111] Connection refused",
            "checks": {},
        },
    ],
    "checked_at": "2026-01-05T08:30:00Z",
}


class GatewaySystemEndpoint:
    """Answers GET /api/v1/system/services the way the gateway does: the JSON to a known key, a
    problem+json 401 to any other."""

    def __init__(self) -> None:
        self.keys_seen: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                key = self.headers.get("X-API-Key")
                owner.keys_seen.append(key)
                if self.path != "/api/v1/system/services":
                    status, body, ctype = 404, {"status": 404}, "application/problem+json"
                elif key != UI_KEY:
                    detail = "The API key is unknown or revoked."
                    status, ctype = 401, "application/problem+json"
                    body = {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail}
                else:
                    status, body, ctype = 200, SERVICES, "application/json"
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    endpoint = GatewaySystemEndpoint()
    yield endpoint
    endpoint.close()


def home(monkeypatch, gateway_url: str, key: str) -> AppTest:
    monkeypatch.setenv("LINESIGHT_GATEWAY_URL", gateway_url)
    monkeypatch.setenv("LINESIGHT_UI_API_KEY", key)
    monkeypatch.setenv("LINESIGHT_HTTP_RETRIES", "0")
    st.cache_resource.clear()  # settings and the gateway client are made once per process
    at = AppTest.from_file(str(HOME), default_timeout=30).run()
    assert not at.exception, at.exception
    return at


def test_home_says_the_gateway_is_unreachable(monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    at = home(monkeypatch, dead, UI_KEY)
    assert len(at.error) == 1
    message = at.error[0].value
    assert "unreachable" in message and dead in message
    assert "LINESIGHT_GATEWAY_URL" in message
    assert not at.subheader  # no service cards


def test_home_shows_every_service_with_its_status_and_failing_checks(monkeypatch, gateway):
    views_before = PAGE_VIEWS.labels("home")._value.get()
    at = home(monkeypatch, gateway.url, UI_KEY)
    assert gateway.keys_seen == [UI_KEY]
    assert not at.error
    assert [h.value for h in at.subheader] == ["gateway", "registry", "inference"]
    markdown = [m.value for m in at.markdown]
    assert sum("green-badge" in m and "ready" in m for m in markdown) == 1
    assert any("orange-badge" in m and "not ready" in m for m in markdown)
    assert any("red-badge" in m and "unreachable" in m for m in markdown)
    assert ":red[**database**]: OperationalError: connection refused" in markdown
    assert at.metric[0].value == "1 of 3"
    captions = [c.value for c in at.caption]
    assert "http://registry:8003 · 12 ms" in captions

    # a page view is counted when the session arrives, not on every rerun a click causes
    assert PAGE_VIEWS.labels("home")._value.get() == views_before + 1
    at.button[0].click().run()
    assert len(gateway.keys_seen) == 2
    assert PAGE_VIEWS.labels("home")._value.get() == views_before + 1


@pytest.mark.parametrize("key", ["lsk_wrong", ""])
def test_home_says_to_set_the_key_when_the_gateway_refuses_it(monkeypatch, gateway, key):
    at = home(monkeypatch, gateway.url, key)
    assert len(at.error) == 1
    message = at.error[0].value
    assert "refused" in message and "401" in message
    assert "LINESIGHT_UI_API_KEY" in message
    assert ("is not set" in message) == (key == "")
    assert not at.subheader


@pytest.fixture
def real_gateway(fresh_service_env, monkeypatch):
    """The gateway itself, served by uvicorn, on a fresh database and buckets; the other services it
    reports on are not running."""
    from linesight_gateway.main import create_app
    from linesight_gateway.settings import GatewaySettings

    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", UI_KEY)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    for name in ("REGISTRY", "INFERENCE", "OCR", "TRAINING_WORKER"):
        monkeypatch.setenv(f"LINESIGHT_{name}_URL", f"http://127.0.0.1:{free_port()}")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(GatewaySettings()), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_home_reads_the_real_gateway(monkeypatch, real_gateway):
    at = home(monkeypatch, real_gateway, UI_KEY)
    assert not at.error
    assert [h.value for h in at.subheader] == [
        "gateway",
        "registry",
        "inference",
        "ocr-service",
        "training-worker",
    ]
    markdown = [m.value for m in at.markdown]
    assert sum("green-badge" in m for m in markdown) == 1  # the gateway, on its database and store
    assert sum("red-badge" in m and "unreachable" in m for m in markdown) == 4
    assert at.metric[0].value == "1 of 5"


def test_python_m_serves_streamlit_and_the_ops_server():
    port, ops_port = free_port(), free_port()
    env = {
        **os.environ,
        "LINESIGHT_HOST": "127.0.0.1",
        "LINESIGHT_PORT": str(port),
        "LINESIGHT_OPS_PORT": str(ops_port),
        "LINESIGHT_GATEWAY_URL": f"http://127.0.0.1:{free_port()}",
        "LINESIGHT_LOG_FORMAT": "console",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "linesight_ui"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "Streamlit did not start"
            time.sleep(0.3)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()

        ops = f"http://127.0.0.1:{ops_port}"
        assert httpx.get(f"{ops}/health").json()["service"] == "ui"
        ready = httpx.get(f"{ops}/ready")
        assert ready.status_code == 503
        assert ready.json()["failed"] == ["gateway"]
        metrics = httpx.get(f"{ops}/metrics").text
        assert 'linesight_ui_page_views_total{page="home"}' in metrics
        assert 'linesight_build_info{service="ui",version="0.1.0"} 1.0' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
