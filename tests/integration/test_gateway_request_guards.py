"""A real gateway process under a body flood: an anonymous 1 GB body is refused with 401 before it is
read, an authenticated body over its route's limit with 413 while it arrives; the process's memory and
its temp folder stay small either way."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.services import ServiceProcess, problem

ADMIN = "admin-key-for-the-flood-tests-0123456789"
GB = 1024 * 1024 * 1024
CHUNK = 1024 * 1024
# What loopback socket buffers may hold between the client and the server without the server reading.
SOCKET_SLACK = 64 * 1024 * 1024
RSS_GROWTH_LIMIT = 40 * 1024 * 1024
CONCURRENCY = 12


class Flood:
    """A 1 GB body made on the fly (the test never holds it); counts what the client managed to send."""

    def __init__(self, head: bytes = b"", total: int = GB) -> None:
        self.head = head
        self.total = total
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        self.sent += len(self.head)
        block = b"x" * CHUNK
        while self.sent < self.total:
            yield block
            self.sent += len(block)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def big_files(folder: Path) -> list[tuple[str, int]]:
    return [(p.name, p.stat().st_size) for p in folder.rglob("*") if p.is_file() and p.stat().st_size > CHUNK]


@pytest.fixture(scope="module")
def gateway(postgres_url, s3_env, tmp_path_factory):
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_url)
    admin_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    folder = tmp_path_factory.mktemp("flooded-gateway")
    spool = folder / "tmp"
    spool.mkdir()
    env = {
        **s3_env,
        "LINESIGHT_DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
        "LINESIGHT_S3_BUCKET_PREFIX": f"ls-{uuid.uuid4().hex[:10]}",
        "LINESIGHT_ADMIN_API_KEY": ADMIN,
        "LINESIGHT_REGISTRY_URL": "http://127.0.0.1:9",
        "LINESIGHT_INFERENCE_URL": "http://127.0.0.1:9",
        "LINESIGHT_OCR_URL": "http://127.0.0.1:9",
        "TMPDIR": str(spool),  # where Starlette spools multipart uploads
        "LINESIGHT_HTTP_LIMIT_CONCURRENCY": str(CONCURRENCY),
    }
    proc = ServiceProcess("linesight_gateway", env, folder / "gateway.log")
    try:
        proc.wait_ready()
        proc.spool = spool
        with httpx.Client(base_url=proc.url, timeout=60) as warm:  # import what the requests below use
            assert warm.get("/api/v1/me", headers={"X-API-Key": ADMIN}).status_code == 200
            assert warm.post("/api/v1/stations", json={}, headers={"X-API-Key": ADMIN}).status_code == 422
        proc.baseline = rss_bytes(proc.proc.pid)
        yield proc
    finally:
        proc.stop()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def post(url: str, path: str, body: Flood, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=60) as client:
        return client.post(path, content=body, headers=headers)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/stations", {"Content-Type": "application/json", "Content-Length": str(GB + 1)}),
        ("/api/v1/stations", {"Content-Type": "application/json", "X-API-Key": "lsk_wrong_key"}),
        ("/api/v1/inspections", {"Content-Type": "multipart/form-data; boundary=b0undary"}),
    ],
    ids=["declared-json", "chunked-json-wrong-key", "chunked-multipart"],
)
def test_an_anonymous_gigabyte_is_refused_before_it_is_read(gateway, path, headers):
    head = b"--b0undary\r\nContent-Disposition: form-data; name=image; filename=a.jpg\r\n\r\n"
    flood = Flood(head if "multipart" in headers["Content-Type"] else b'{"name": "')
    resp = post(gateway.url, path, flood, headers)
    assert resp.status_code == 401, resp.text
    assert "API key" in problem(resp)["detail"]
    assert flood.sent < SOCKET_SLACK, f"the client pushed {flood.sent} bytes before the answer"
    assert rss_bytes(gateway.proc.pid) - gateway.baseline < RSS_GROWTH_LIMIT
    assert big_files(gateway.spool) == []


@pytest.mark.parametrize(
    ("path", "content_type", "limit_text"),
    [
        ("/api/v1/stations", "application/json", "1 MiB"),
        ("/api/v1/inspections", "multipart/form-data; boundary=b0undary", "a photo"),
    ],
    ids=["json", "photo-upload"],
)
def test_an_authenticated_body_over_its_limit_gets_413_while_it_arrives(
    gateway, path, content_type, limit_text
):
    head = b"--b0undary\r\nContent-Disposition: form-data; name=image; filename=a.jpg\r\n\r\n"
    flood = Flood(head if "multipart" in content_type else b'{"name": "')
    resp = post(gateway.url, path, flood, {"Content-Type": content_type, "X-API-Key": ADMIN})
    assert resp.status_code == 413, resp.text
    assert limit_text in problem(resp)["detail"]
    assert flood.sent < 20 * 1024 * 1024 + SOCKET_SLACK
    assert rss_bytes(gateway.proc.pid) - gateway.baseline < RSS_GROWTH_LIMIT
    assert big_files(gateway.spool) == []


def test_connections_past_the_concurrency_limit_get_503(gateway):
    idle = [socket.create_connection(("127.0.0.1", gateway.port)) for _ in range(CONCURRENCY)]
    try:
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            assert client.get("/health").status_code == 503
    finally:
        for conn in idle:
            conn.close()
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        for _ in range(50):  # the server notices the closed sockets as its loop gets to them
            if client.get("/health").status_code == 200:
                break
        else:
            raise AssertionError("the gateway did not accept requests again")
