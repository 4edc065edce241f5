"""Request ids, RED metrics and the /metrics exposition, as plain ASGI middleware (cheap per request)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any
from weakref import WeakKeyDictionary

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linesight_core.logs import request_id_var

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})

log = logging.getLogger("linesight.http")

HTTP_REQUESTS = Counter(
    "linesight_http_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "linesight_http_request_duration_seconds",
    "Time from request start to the end of the response body.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HTTP_IN_PROGRESS = Gauge(
    "linesight_http_requests_in_progress", "Requests being handled now.", multiprocess_mode="livesum"
)
BUILD_INFO = Gauge(
    "linesight_build_info",
    "Service name and version; always 1.",
    ["service", "version"],
    multiprocess_mode="max",
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """Keep the caller's id when it is safe to log and pass on; otherwise make one."""
    if value and _SAFE_ID.match(value):
        return value
    return new_request_id()


# Per app: (method, path pattern, template) of its documented routes, built on first need.
_SCHEMA_ROUTES: WeakKeyDictionary[Any, list[tuple[str, re.Pattern[str], str]]] = WeakKeyDictionary()


def _schema_template(scope: Scope) -> str | None:
    """The template of a request answered before routing (a refused credential, a declared body over
    its limit), found among the app's documented routes, so it is counted under its route."""
    app = scope.get("app")
    openapi = getattr(app, "openapi", None)
    if openapi is None:
        return None
    table = _SCHEMA_ROUTES.get(app)
    if table is None:
        try:
            paths: dict[str, Any] = openapi().get("paths", {})
        except Exception:  # noqa: BLE001 - a schema that cannot be built only costs the label
            paths = {}
        table = [(m.upper(), compile_path(p)[0], p) for p, ops in paths.items() for m in ops]
        _SCHEMA_ROUTES[app] = table
    method, path = scope.get("method", ""), scope.get("path", "")
    return next((t for m, pattern, t in table if m == method and pattern.match(path)), None)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return _schema_template(scope) or "unmatched"


class TelemetryMiddleware:
    """Assigns the request id, counts and times the request, and logs one line for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = accept_request_id(headers.get(b"x-request-id", b"").decode("latin-1") or None)
        token = request_id_var.set(rid)
        method = scope.get("method", "GET")
        start = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                raw = list(message.get("headers", []))
                raw.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": raw}
            await send(message)

        HTTP_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            HTTP_IN_PROGRESS.dec()
            elapsed = time.perf_counter() - start
            route = _route_template(scope)
            status = status_holder["status"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(elapsed)
            path = scope.get("path", "")
            if path not in _QUIET_PATHS or status >= 400:
                log.info(
                    "%s %s %s",
                    method,
                    path,
                    status,
                    extra={"status": status, "duration_ms": round(elapsed * 1000, 2), "route": route},
                )
            request_id_var.reset(token)


def metrics_payload(registry: CollectorRegistry = REGISTRY) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST


def set_build_info(service: str, version: str) -> None:
    BUILD_INFO.labels(service, version).set(1)


def outgoing_headers(extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Headers that carry the current request id onto an outgoing call."""
    headers = {k: str(v) for k, v in (extra or {}).items()}
    rid = request_id_var.get()
    if rid:
        headers[REQUEST_ID_HEADER] = rid
    return headers
