"""Service-to-service authentication: internal /v1 APIs require the shared bearer token."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request
from starlette.requests import HTTPConnection

from linesight_core.errors import Problem
from linesight_core.header_auth import HeaderCheck


def bearer_token(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def check_service_token(conn: HTTPConnection, expected: str) -> None:
    """Fails closed: a service started without a token refuses every internal call."""
    if not expected:
        raise Problem(503, "LINESIGHT_SERVICE_TOKEN is not set on this service; internal calls are refused.")
    token = bearer_token(conn)
    if token is None:
        raise Problem(
            401,
            "This internal API needs 'Authorization: Bearer <service token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise Problem(403, "The service token is not valid.")


def service_token_dependency(expected: str) -> Callable[[Request], None]:
    """A FastAPI dependency that lets a request through only with the service token."""

    def _check(request: Request) -> None:
        check_service_token(request, expected)

    return _check


def service_token_check(expected: str) -> HeaderCheck:
    """The same check for HeaderAuthMiddleware: a wrong token is refused before the body is read."""

    async def _check(conn: HTTPConnection) -> None:
        check_service_token(conn, expected)

    return _check
