"""Authentication from the headers alone, before the app runs: a caller without valid credentials is
refused before a byte of its body is read (FastAPI reads and parses the body before any dependency,
the credential check included, would run)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from linesight_core.errors import Problem, send_problem

# Raises Problem (401/403/503) to refuse; may leave what it found in `conn.state` for the route.
HeaderCheck = Callable[[HTTPConnection], Awaitable[None]]


class HeaderAuthMiddleware:
    """Runs the check of the first path prefix that matches; other paths pass untouched."""

    def __init__(self, app: ASGIApp, checks: Sequence[tuple[str, HeaderCheck]]) -> None:
        self.app = app
        self.checks = list(checks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            for prefix, check in self.checks:
                if path.startswith(prefix):
                    try:
                        await check(HTTPConnection(scope))
                    except Problem as exc:
                        await send_problem(scope, receive, send, exc)
                        return
                    break
        await self.app(scope, receive, send)
