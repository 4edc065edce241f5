"""/health, /ready and /metrics for processes that are not FastAPI apps (the Celery worker, the
Streamlit UI): a small threaded HTTP server beside the main loop, same bodies as the app factory."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import REGISTRY, CollectorRegistry

from linesight_core.app import ReadinessCheck, check_readiness, readiness_answer
from linesight_core.errors import PROBLEM_JSON, problem_body
from linesight_core.telemetry import metrics_payload

log = logging.getLogger(__name__)


def _handler(
    service: str, version: str, checks: Mapping[str, ReadinessCheck], registry: CollectorRegistry
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                body = {"status": "ok", "service": service, "version": version}
                self._send(200, json.dumps(body).encode(), "application/json")
            elif path == "/ready":
                status, body = readiness_answer(service, asyncio.run(check_readiness(checks)))
                media_type = "application/json" if status == 200 else PROBLEM_JSON
                self._send(status, json.dumps(body).encode(), media_type)
            elif path == "/metrics":
                payload, content_type = metrics_payload(registry)
                self._send(200, payload, content_type)
            else:
                body = problem_body(
                    404, f"{path} is not served here; try /health, /ready or /metrics.", instance=path
                )
                self._send(404, json.dumps(body).encode(), PROBLEM_JSON)

        def log_message(self, format: str, *args: object) -> None:
            return  # probes every few seconds would drown the log

    return Handler


def start_ops_server(
    host: str,
    port: int,
    *,
    service: str,
    version: str,
    checks: Mapping[str, ReadinessCheck],
    registry: CollectorRegistry | None = None,
) -> ThreadingHTTPServer:
    """Start serving in a daemon thread and return the server (call .shutdown() to stop). `registry`
    replaces the default metrics registry (a multiprocess collector for pre-forking workers)."""
    server = ThreadingHTTPServer((host, port), _handler(service, version, checks, registry or REGISTRY))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="ops-server", daemon=True)
    thread.start()
    log.info("ops server listening", extra={"host": host, "port": port})
    return server
