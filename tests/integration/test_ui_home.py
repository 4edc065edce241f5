"""The UI: `python -m linesight_ui` serves Streamlit and its ops server; nothing but the sign-in page
until a person signs in (a password against the real gateway, or a personal API key); the home page then
shows each service's health as the gateway reports it, and says so plainly when the gateway is down. A
refused or expired credential goes back to the sign-in page with the reason."""

import asyncio
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

from linesight_core.app import check_readiness
from linesight_ui.main import HOME, readiness_checks
from linesight_ui.metrics import PAGE_VIEWS
from linesight_ui.resources import CREDENTIAL
from linesight_ui.settings import UISettings
from linesight_ui.signin import PERSON
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


ME = {"key_id": "0b5d7f91-3c2e-4a68-9d10-4f6b8d0a2c53", "name": "line tablet", "role": "viewer"}
ANSWERS = {
    "/api/v1/system/services": SERVICES,
    "/api/v1/me": {**ME, "kind": "api_key", "display_name": "tablet"},
}


class GatewaySystemEndpoint:
    """Answers GET /api/v1/system/services and /api/v1/me the way the gateway does: the JSON to a known
    key, a problem+json 401 to any other."""

    def __init__(self) -> None:
        self.keys_seen: list[str | None] = []  # of the services calls
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                key = self.headers.get("X-API-Key")
                if self.path == "/api/v1/system/services":
                    owner.keys_seen.append(key)
                if self.path not in ANSWERS:
                    status, body, ctype = 404, {"status": 404}, "application/problem+json"
                elif key != UI_KEY:
                    detail = "The API key is unknown or revoked."
                    status, ctype = 401, "application/problem+json"
                    body = {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail}
                else:
                    status, body, ctype = 200, ANSWERS[self.path], "application/json"
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


def home(monkeypatch, gateway_url: str, key: str | None) -> AppTest:
    """The app, opened in a browser session already signed in with `key` (None: not signed in)."""
    monkeypatch.setenv("LINESIGHT_GATEWAY_URL", gateway_url)
    monkeypatch.setenv("LINESIGHT_HTTP_RETRIES", "0")
    st.cache_resource.clear()  # the settings are made once per process
    at = AppTest.from_file(str(HOME), default_timeout=30)
    if key is not None:
        at.session_state[CREDENTIAL] = key
    at.run()
    assert not at.exception, at.exception
    return at


def on_sign_in_page(at: AppTest) -> bool:
    labels = {t.label for t in at.text_input}
    return {"Username", "Password", "Personal API key"} <= labels and not at.metric


def test_home_says_the_gateway_is_unreachable(monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    at = home(monkeypatch, dead, UI_KEY)
    assert len(at.error) == 1
    message = at.error[0].value
    assert "unreachable" in message and dead in message
    assert "LINESIGHT_GATEWAY_URL" in message
    assert not at.subheader  # no service cards


def test_signing_in_to_an_unreachable_gateway_says_so(monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    at = home(monkeypatch, dead, None)
    at.text_input(key="signin_username").input("mara")
    at.text_input(key="signin_password_value").input("whatever")
    at.button[0].click().run()
    assert not at.exception
    assert on_sign_in_page(at)
    assert "unreachable" in at.error[0].value and dead in at.error[0].value


def test_an_expired_session_goes_back_to_the_sign_in_page(monkeypatch, gateway):
    monkeypatch.setenv("LINESIGHT_GATEWAY_URL", gateway.url)
    st.cache_resource.clear()
    at = AppTest.from_file(str(HOME), default_timeout=30)
    at.session_state[CREDENTIAL] = UI_KEY
    at.session_state[PERSON] = {**ME, "kind": "user", "session_expires_at": "2026-01-01T00:00:00+00:00"}
    at.run()
    assert not at.exception
    assert on_sign_in_page(at) and "expired" in at.info[0].value
    assert gateway.keys_seen == []


def test_home_shows_every_service_with_its_status_and_failing_checks(monkeypatch, gateway):
    views_before = PAGE_VIEWS.labels("home")._value.get()
    at = home(monkeypatch, gateway.url, UI_KEY)
    assert gateway.keys_seen == [UI_KEY]
    assert not at.error
    assert "tablet" in [m.value for m in at.sidebar.markdown][-1]  # who is signed in
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
    [refresh] = [b for b in at.button if b.label == "Refresh"]
    refresh.click().run()
    assert len(gateway.keys_seen) == 2
    assert PAGE_VIEWS.labels("home")._value.get() == views_before + 1


def test_nothing_but_the_sign_in_page_without_a_sign_in(monkeypatch, gateway):
    at = home(monkeypatch, gateway.url, None)
    assert on_sign_in_page(at)
    assert gateway.keys_seen == []  # no page asked the gateway for anything
    assert not at.sidebar.button  # no navigation, no sign-out


def test_a_refused_key_goes_back_to_the_sign_in_page_saying_why(monkeypatch, gateway):
    at = home(monkeypatch, gateway.url, "lsk_wrong")
    assert on_sign_in_page(at)
    [notice] = at.info
    assert "refused" in notice.value and "unknown or revoked" in notice.value
    assert gateway.keys_seen == []


def test_a_personal_key_signs_in_from_the_form(monkeypatch, gateway):
    at = home(monkeypatch, gateway.url, None)
    at.text_input(key="signin_api_key").input("lsk_nope")
    at.button[1].click().run()  # the key form's submit button
    assert on_sign_in_page(at) and "refused the key" in at.error[0].value
    at.text_input(key="signin_api_key").input(UI_KEY)
    at.button[1].click().run()
    assert not at.exception and not at.error
    assert at.metric[0].value == "1 of 3"


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
    monkeypatch.setenv("LINESIGHT_LOGIN_MAX_FAILURES_PER_USER", "2")
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


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password_value").input(password)
    at.button[0].click().run()  # the password form's submit button
    assert not at.exception, at.exception
    return at


def test_a_person_signs_in_at_the_real_gateway_and_out_again(monkeypatch, real_gateway):
    admin = {"X-API-Key": UI_KEY}
    made = httpx.post(
        f"{real_gateway}/api/v1/users",
        headers=admin,
        json={"username": "mara", "display_name": "Mara L", "role": "operator", "password": "pw-for-mara"},
    )
    assert made.status_code == 201, made.text
    at = home(monkeypatch, real_gateway, None)
    sign_in(at, "mara", "not her password")
    assert on_sign_in_page(at) and at.error[0].value == "The username or password is wrong."
    assert at.text_input(key="signin_username").value == "mara"  # what was typed stays

    sign_in(at, "mara", "pw-for-mara")
    assert not on_sign_in_page(at) and not at.error
    assert at.metric[0].value == "1 of 5"
    sidebar = [m.value for m in at.sidebar.markdown]
    assert "**Mara L**" in sidebar
    assert "operator" in [c.value for c in at.sidebar.caption]
    token = at.session_state[CREDENTIAL]
    assert httpx.get(f"{real_gateway}/api/v1/me", headers={"X-API-Key": token}).status_code == 200

    [sign_out] = [b for b in at.sidebar.button if b.label == "Sign out"]
    sign_out.click().run()
    assert on_sign_in_page(at) and "signed out" in at.info[0].value
    ended = httpx.get(f"{real_gateway}/api/v1/me", headers={"X-API-Key": token})
    assert ended.status_code == 401  # the session ended at the gateway, not only in the browser


def test_an_ended_session_goes_back_to_the_sign_in_page(monkeypatch, real_gateway):
    admin = {"X-API-Key": UI_KEY}
    made = httpx.post(
        f"{real_gateway}/api/v1/users",
        headers=admin,
        json={"username": "ravi", "role": "viewer", "password": "pw-for-ravi"},
    ).json()
    at = sign_in(home(monkeypatch, real_gateway, None), "ravi", "pw-for-ravi")
    assert at.metric  # the home page
    reset = httpx.patch(f"{real_gateway}/api/v1/users/{made['id']}", headers=admin, json={"active": False})
    assert reset.status_code == 200
    at.run(timeout=30)  # the next rerun: the gateway refuses the ended session
    assert not at.exception
    assert on_sign_in_page(at)
    assert "ended" in at.info[0].value


def test_too_many_wrong_passwords_are_refused_for_a_while(monkeypatch, real_gateway):
    at = home(monkeypatch, real_gateway, None)
    for _ in range(2):
        sign_in(at, "nobody", "wrong")
    sign_in(at, "nobody", "wrong")
    assert "Too many failed sign-ins" in at.error[0].value


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


def test_the_ui_is_not_ready_while_its_streamlit_port_is_closed(real_gateway):
    # the ops server answers seconds before Streamlit does: /ready must not send a browser there yet
    settings = UISettings(host="127.0.0.1", port=free_port(), gateway_url=real_gateway, http_retries=0)
    checks, clients = readiness_checks(settings)
    try:
        results = asyncio.run(check_readiness(checks))
    finally:
        for client in clients:
            client.close()
    assert results["gateway"]["ok"] is True
    assert results["streamlit"]["ok"] is False and "ConnectError" in results["streamlit"]["error"]


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
        assert ready.json()["checks"]["streamlit"]["ok"] is True
        metrics = httpx.get(f"{ops}/metrics").text
        assert 'linesight_ui_page_views_total{page="home"}' in metrics
        assert 'linesight_build_info{service="ui",version="0.1.0"} 1.0' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
