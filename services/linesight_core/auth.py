"""Service-to-service authentication: internal /v1 APIs require the shared bearer token."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request

from linesight_core.errors import Problem


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def service_token_dependency(expected: str) -> Callable[[Request], None]:
    """A FastAPI dependency that lets a request through only with the service token. Fails closed:
    a service started without a token refuses every internal call."""

    def _check(request: Request) -> None:
        if not expected:
            raise Problem(
                503, "LINESIGHT_SERVICE_TOKEN is not set on this service; internal calls are refused."
            )
        token = bearer_token(request)
        if token is None:
            raise Problem(
                401,
                "This internal API needs 'Authorization: Bearer <service token>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(token.encode(), expected.encode()):
            raise Problem(403, "The service token is not valid.")

    return _check
