"""The shared HTTP client retries idempotent calls a bounded number of times, never POSTs, and
carries the service token and the caller's request id."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from linesight_core.http import make_client
from linesight_core.logs import request_id_var


class Recorder:
    def __init__(self, fail_first: int, status: int = 503) -> None:
        self.fail_first = fail_first
        self.status = status
        self.calls: list[dict] = []


@pytest.fixture
def server():
    rec = Recorder(fail_first=0)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            rec.calls.append({"method": self.command, "headers": dict(self.headers)})
            status = rec.status if len(rec.calls) <= rec.fail_first else 200
            body = json.dumps({"call": len(rec.calls)}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _answer
        do_POST = _answer

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield rec, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_get_is_retried_until_success(server):
    rec, url = server
    rec.fail_first = 2
    with make_client(url, retries=2) as client:
        resp = client.get("/x")
    assert resp.status_code == 200
    assert len(rec.calls) == 3


def test_retries_are_bounded(server):
    rec, url = server
    rec.fail_first = 10
    with make_client(url, retries=2) as client:
        resp = client.get("/x")
    assert resp.status_code == 503
    assert len(rec.calls) == 3


def test_post_is_not_retried(server):
    rec, url = server
    rec.fail_first = 1
    with make_client(url, retries=3) as client:
        resp = client.post("/x", json={})
    assert resp.status_code == 503
    assert len(rec.calls) == 1


def test_token_and_request_id_are_sent(server):
    rec, url = server
    token = request_id_var.set("rid-42")
    try:
        with make_client(url, service_token="tok") as client:
            client.get("/x")
    finally:
        request_id_var.reset(token)
    headers = {k.lower(): v for k, v in rec.calls[0]["headers"].items()}
    assert headers["authorization"] == "Bearer tok"
    assert headers["x-request-id"] == "rid-42"


def test_connection_refused_is_retried_then_raised():
    with make_client("http://127.0.0.1:9", retries=1, timeout=1) as client, pytest.raises(httpx.ConnectError):
        client.get("/x")
