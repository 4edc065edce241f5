"""Async client of the registry's internal API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import httpx

from linesight_core.clients.errors import raise_for_problem, transport_error
from linesight_core.contracts.registry import AliasOut, ModelOut, ModelVersionOut, TrainingPhotos
from linesight_core.http import make_async_client

SERVICE = "registry"
ACTOR_HEADER = "X-LineSight-Actor"
# Header values are Latin-1 on the wire (httpx refuses anything else), and an API key's name is any text
# ("Prüfstand 3"), so the actor travels percent-encoded as UTF-8.
_ACTOR_SAFE = " ()-_.,:;@/+#"


def encode_actor(actor: str) -> str:
    return quote(actor, safe=_ACTOR_SAFE)


def decode_actor(value: str) -> str:
    return unquote(value, errors="replace")


class RegistryClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @classmethod
    def create(
        cls, base_url: str, *, service_token: str, timeout: float = 10.0, retries: int = 2
    ) -> RegistryClient:
        return cls(make_async_client(base_url, service_token=service_token, timeout=timeout, retries=retries))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            resp = await self.http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise transport_error(SERVICE, exc) from exc
        raise_for_problem(SERVICE, resp)
        return resp.json()

    async def get_model(self, name: str) -> ModelOut:
        return ModelOut.model_validate(await self._get(f"/v1/models/{name}"))

    async def resolve(
        self, name: str, *, alias: str | None = None, version: int | None = None
    ) -> ModelVersionOut:
        params: dict[str, Any] = {}
        if version is not None:
            params["version"] = version
        elif alias:
            params["alias"] = alias
        return ModelVersionOut.model_validate(await self._get(f"/v1/models/{name}/resolve", params))

    async def get_alias(self, name: str, alias: str) -> AliasOut:
        return AliasOut.model_validate(await self._get(f"/v1/models/{name}/aliases/{alias}"))

    async def training_photos(self, name: str, version: int) -> TrainingPhotos:
        return TrainingPhotos.model_validate(
            await self._get(f"/v1/models/{name}/versions/{version}/training-photos")
        )

    # --- engineering API (the gateway proxies these for users with the right role) -------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        actor: str = "",
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        data: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """One call to the registry on behalf of `actor` (recorded by the registry as who did it)."""
        headers = {ACTOR_HEADER: encode_actor(actor)} if actor else {}
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json is not None:
            kwargs["json"] = json
        if files is not None:
            kwargs["files"] = files
        if data is not None:
            kwargs["data"] = data
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            resp = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_error(SERVICE, exc) from exc
        raise_for_problem(SERVICE, resp)
        return resp
