"""The one way services call each other: explicit timeouts, bounded retries on idempotent calls,
the service token and the caller's request id on every request."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from linesight_core.logs import request_id_var
from linesight_core.telemetry import REQUEST_ID_HEADER

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUS = frozenset({502, 503, 504})
RETRY_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadError, httpx.RemoteProtocolError)


def _should_retry(request: httpx.Request, attempt: int, retries: int) -> bool:
    return request.method in IDEMPOTENT and attempt < retries


def _backoff(attempt: int) -> float:
    return min(0.1 * (2**attempt), 2.0)


class RetryTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, retries: int) -> None:
        self.inner = inner
        self.retries = retries

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self.inner.handle_request(request)
            except RETRY_ERRORS:
                if not _should_retry(request, attempt, self.retries):
                    raise
            else:
                if response.status_code not in RETRY_STATUS or not _should_retry(
                    request, attempt, self.retries
                ):
                    return response
                response.close()
            log.info(
                "retrying", extra={"method": request.method, "url": str(request.url), "attempt": attempt + 1}
            )
            time.sleep(_backoff(attempt))
            attempt += 1

    def close(self) -> None:
        self.inner.close()


class AsyncRetryTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, retries: int) -> None:
        self.inner = inner
        self.retries = retries

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self.inner.handle_async_request(request)
            except RETRY_ERRORS:
                if not _should_retry(request, attempt, self.retries):
                    raise
            else:
                if response.status_code not in RETRY_STATUS or not _should_retry(
                    request, attempt, self.retries
                ):
                    return response
                await response.aclose()
            log.info(
                "retrying", extra={"method": request.method, "url": str(request.url), "attempt": attempt + 1}
            )
            await asyncio.sleep(_backoff(attempt))
            attempt += 1

    async def aclose(self) -> None:
        await self.inner.aclose()


def _headers(service_token: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    headers = dict(extra or {})
    if service_token:
        headers["Authorization"] = f"Bearer {service_token}"
    return headers


def _add_request_id(request: httpx.Request) -> None:
    rid = request_id_var.get()
    if rid and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = rid


async def _add_request_id_async(request: httpx.Request) -> None:
    _add_request_id(request)


def make_client(
    base_url: str,
    *,
    service_token: str | None = None,
    timeout: float = 10.0,
    retries: int = 2,
    connect_timeout: float = 3.0,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    return httpx.Client(
        base_url=base_url,
        headers=_headers(service_token, headers),
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        transport=RetryTransport(httpx.HTTPTransport(), retries),
        event_hooks={"request": [_add_request_id]},
    )


def make_async_client(
    base_url: str,
    *,
    service_token: str | None = None,
    timeout: float = 10.0,
    retries: int = 2,
    connect_timeout: float = 3.0,
    max_connections: int = 100,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=_headers(service_token, headers),
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        transport=AsyncRetryTransport(
            httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=max_connections)), retries
        ),
        event_hooks={"request": [_add_request_id_async]},
    )
