"""Request body limits per route, enforced while the body arrives: a request over its route's limit is
answered 413 as soon as its Content-Length or the bytes read so far pass the limit, before the body can
fill the process's memory or (multipart uploads are spooled to files) the temp folder."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linesight_core.errors import Problem, send_problem

# Multipart framing around an upload: part headers, boundaries and the small form fields that travel
# with the file (a model upload's notes, a dataset item's labels).
MULTIPART_OVERHEAD_BYTES = 256 * 1024


@dataclass(frozen=True)
class RouteLimit:
    """The largest body `method path` accepts; `path` is a route template (`/v1/models/{name}/versions`)."""

    method: str
    path: str
    max_bytes: int
    what: str = "this endpoint"


def upload_route(method: str, path: str, file_bytes: int, what: str, *, files: int = 1) -> RouteLimit:
    """The limit of a multipart route that takes up to `files` files of at most `file_bytes` each."""
    counted = "a file" if files == 1 else f"{files} files"
    return RouteLimit(
        method,
        path,
        file_bytes * files + MULTIPART_OVERHEAD_BYTES,
        f"{what} ({counted} of at most {file_bytes} bytes, plus form fields)",
    )


def describe(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} bytes"


class BodyLimits:
    """`default_bytes` for every route not named; the named routes get their own limit."""

    def __init__(self, default_bytes: int, routes: Iterable[RouteLimit] = ()) -> None:
        self.default_bytes = default_bytes
        self._routes: list[tuple[str, re.Pattern[str], RouteLimit]] = [
            (r.method.upper(), compile_path(r.path)[0], r) for r in routes
        ]

    def for_request(self, method: str, path: str) -> RouteLimit:
        for route_method, pattern, limit in self._routes:
            if route_method == method and pattern.match(path):
                return limit
        return RouteLimit(method, path, self.default_bytes, "a request without an upload")


class BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so FastAPI's body parsing passes it on unchanged and the
    app's problem handler answers 413."""

    def __init__(self, limit: RouteLimit) -> None:
        super().__init__(413, detail=too_large_detail(limit))


def too_large_detail(limit: RouteLimit) -> str:
    return (
        f"The request body is larger than {describe(limit.max_bytes)} ({limit.max_bytes} bytes), "
        f"the limit for {limit.what}."
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_request(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit.max_bytes:
            await send_problem(scope, receive, send, Problem(413, too_large_detail(limit)))
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit.max_bytes:
                    exceeded = True
                    raise BodyTooLarge(limit)
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if exceeded:  # the rest of the body is unread: do not keep the connection for it
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, counting_receive, closing_send)
        except BodyTooLarge:
            if started:
                raise
            await send_problem(scope, receive, send, Problem(413, too_large_detail(limit)))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
