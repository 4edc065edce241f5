"""Async client of the OCR service's internal API."""

from __future__ import annotations

from typing import Any

import httpx

from linesight_core.clients.errors import UpstreamError, raise_for_problem, transport_error
from linesight_core.contracts.ocr import LabelRead
from linesight_core.http import make_async_client

SERVICE = "ocr-service"
# Answers about the image itself (not one, damaged, too big, an unknown vendor hint) are the caller's to
# fix; any other 4xx (a refused service token, a wrong URL) is this deployment's fault.
CALLER_STATUSES = frozenset({400, 413, 415, 422})


class OcrClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @classmethod
    def create(
        cls, base_url: str, *, service_token: str, timeout: float = 30.0, retries: int = 0
    ) -> OcrClient:
        return cls(make_async_client(base_url, service_token=service_token, timeout=timeout, retries=retries))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def parse_label(
        self,
        image: bytes,
        content_type: str = "application/octet-stream",
        vendor_hint: str | None = None,
        *,
        timeout: float | None = None,
    ) -> LabelRead:
        """Read one label photo. A 4xx answer (not an image, over a limit, an unknown vendor hint) raises
        UpstreamError with the same status and detail; the service down is 503, too slow 504, failing or
        refusing the service token 502."""
        data = {"vendor_hint": vendor_hint} if vendor_hint else {}
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        try:
            resp = await self.http.post(
                "/v1/parse-label", data=data, files={"image": ("label", image, content_type)}, **extra
            )
        except httpx.HTTPError as exc:
            raise transport_error(SERVICE, exc) from exc
        if 400 <= resp.status_code < 500 and resp.status_code not in CALLER_STATUSES:
            raise UpstreamError(
                SERVICE,
                502,
                f"{SERVICE} refused the call ({resp.status_code}): check its URL and the service token.",
            )
        raise_for_problem(SERVICE, resp)
        return LabelRead.model_validate_json(resp.content)
