"""The registry pass-through of the model, dataset and training-run routes: who asks (`actor`), the JSON
answer passed on as it came (`passthrough`) and streamed downloads (`stream`: dataset exports can be
large, so they are never held in memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import Response
from fastapi.responses import StreamingResponse

from linesight_core.clients.errors import raise_for_problem, transport_error
from linesight_core.clients.registry import ACTOR_HEADER, SERVICE, RegistryClient
from linesight_gateway.domain.access import Principal

DOWNLOAD_TIMEOUT_SECONDS = 600.0
UPLOAD_TIMEOUT_SECONDS = 600.0
PASSED_HEADERS = ("content-type", "content-length", "content-disposition", "etag", "x-content-sha256")


def actor(principal: Principal) -> str:
    return f"{principal.name} ({principal.key_id})"[:100]


def params_of(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


async def passthrough(registry: RegistryClient, method: str, path: str, **kwargs: Any) -> Response:
    """Call the registry and answer with its JSON body and status (its errors are raised as problems)."""
    resp = await registry.request(method, path, **kwargs)
    return Response(resp.content, status_code=resp.status_code, media_type="application/json")


async def stream(
    registry: RegistryClient, path: str, params: dict[str, Any] | None = None
) -> StreamingResponse:
    """GET `path` on the registry and stream its body to the caller."""
    http = registry.http
    req = http.build_request("GET", path, params=params, timeout=DOWNLOAD_TIMEOUT_SECONDS)
    try:
        upstream = await http.send(req, stream=True)
    except httpx.HTTPError as exc:
        raise transport_error(SERVICE, exc) from exc
    if upstream.status_code >= 400:
        await upstream.aread()
        await upstream.aclose()
        raise_for_problem(SERVICE, upstream)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    headers = {
        k: upstream.headers[k] for k in PASSED_HEADERS if k in upstream.headers and k != "content-type"
    }
    return StreamingResponse(
        body(), media_type=upstream.headers.get("content-type", "application/octet-stream"), headers=headers
    )


__all__ = ["ACTOR_HEADER", "actor", "params_of", "passthrough", "stream"]
