"""Run an ASGI app on a real loopback port inside the test process (for service-to-service calls)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app, port: int | None = None) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Serve `app` (lifespan included) on 127.0.0.1 until the block ends; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# Redis databases the tests use as private Celery brokers: a worker of one test never takes another's runs.
BROKER_DBS = {
    "registry-runs": 9,
    "promotion-gate": 10,
    "worker-runs": 11,
    "feedback-loop": 12,
    "ui": 13,
    "gateway-hardening": 14,
}


def private_broker(redis_url: str, purpose: str) -> str:
    """The URL of `purpose`'s own Redis database on the test server, emptied."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{BROKER_DBS[purpose]}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url
