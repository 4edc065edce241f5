"""The UI's client of the gateway's public API: every screen gets its data through here."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from linesight_core.contracts.system import ServicesStatus
from linesight_core.http import make_client

API_KEY_HEADER = "X-API-Key"


class GatewayUnreachable(Exception):
    """No HTTP answer from the gateway (refused, timed out, name not resolved)."""


class GatewayKeyRejected(Exception):
    """The gateway answered 401 or 403 to the UI's API key."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class GatewayError(Exception):
    """The gateway answered, but not with what the UI asked for."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _problem_detail(resp: httpx.Response) -> str:
    try:
        body: Any = resp.json()
    except ValueError:
        return resp.text[:200] or resp.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    return resp.reason_phrase


class GatewayClient:
    def __init__(self, base_url: str, api_key: str, *, timeout: float = 10.0, retries: int = 2) -> None:
        self.base_url = base_url
        headers = {API_KEY_HEADER: api_key} if api_key else {}
        self._client = make_client(base_url, timeout=timeout, retries=retries, headers=headers)

    def _get(self, path: str) -> httpx.Response:
        try:
            resp = self._client.get(path)
        except httpx.TransportError as exc:
            raise GatewayUnreachable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code in (401, 403):
            raise GatewayKeyRejected(resp.status_code, _problem_detail(resp))
        if resp.status_code != 200:
            raise GatewayError(resp.status_code, _problem_detail(resp))
        return resp

    def system_health(self) -> ServicesStatus:
        """Readiness of every service, the gateway included, as the gateway sees it."""
        resp = self._get("/api/v1/system/services")
        try:
            return ServicesStatus.model_validate_json(resp.content)
        except ValidationError as exc:
            raise GatewayError(resp.status_code, f"unexpected answer from the gateway: {exc}") from exc

    def close(self) -> None:
        self._client.close()
