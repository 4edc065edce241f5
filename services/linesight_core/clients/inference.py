"""Async client of the inference service's internal API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import TypeAdapter

from linesight_core.clients.errors import raise_for_problem, transport_error
from linesight_core.contracts.inference import LoadedModel, Prediction, PredictParams
from linesight_core.http import make_async_client
from linesight_core.images import sniff_image_type

SERVICE = "inference"

_PREDICTIONS = TypeAdapter(list[Prediction])
_LOADED = TypeAdapter(list[LoadedModel])

# (file name, bytes, content type); the content type is informative, the service reads the bytes.
ImageFile = tuple[str, bytes, str]
# Sent as the raw body (no multipart framing to build and parse, no spooled temp file in the service).
RAW_TYPES = frozenset({"image/jpeg", "image/png"})


def _form(params: PredictParams) -> dict[str, str]:
    return {k: str(v) for k, v in params.model_dump(exclude_none=True).items()}


def _as_file(image: bytes | ImageFile) -> ImageFile:
    return image if isinstance(image, tuple) else ("image", image, "application/octet-stream")


class InferenceClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @classmethod
    def create(
        cls, base_url: str, *, service_token: str, timeout: float = 10.0, retries: int = 2
    ) -> InferenceClient:
        return cls(make_async_client(base_url, service_token=service_token, timeout=timeout, retries=retries))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = await self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise transport_error(SERVICE, exc) from exc
        raise_for_problem(SERVICE, resp)
        return resp.content

    async def predict(
        self, image: bytes | ImageFile, params: PredictParams, *, timeout: float | None = None
    ) -> Prediction:
        """One image. Upstream 4xx answers (bad image, unknown model) raise UpstreamError with their status.
        `timeout` overrides the client's for this call (the gateway keeps inspections snappy)."""
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        data = image[1] if isinstance(image, tuple) else image
        media = sniff_image_type(data)
        if media in RAW_TYPES:
            extra |= {"params": _form(params), "content": data, "headers": {"Content-Type": media}}
        else:  # other formats go as a form, so the service's answer on them stays its own
            extra |= {"data": _form(params), "files": {"image": _as_file(image)}}
        body = await self._call("POST", "/v1/predict", **extra)
        return Prediction.model_validate_json(body)

    async def predict_batch(
        self, images: Sequence[bytes | ImageFile], params: PredictParams
    ) -> list[Prediction]:
        """Several images with the same model; the answers come in the order of the images."""
        files = [("images", _as_file(img)) for img in images]
        body = await self._call("POST", "/v1/predict/batch", data=_form(params), files=files)
        return _PREDICTIONS.validate_json(body)

    async def loaded_models(self) -> list[LoadedModel]:
        return _LOADED.validate_json(await self._call("GET", "/v1/models"))
