"""The UI's client of the gateway's public API: every screen gets its data through here."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from linesight_core.contracts.common import Page
from linesight_core.contracts.registry import (
    AliasEventOut,
    AliasOut,
    ModelOut,
    ModelVersionOut,
    VersionComparison,
)
from linesight_core.contracts.system import ServicesStatus
from linesight_core.contracts.training import EpochRecord, TrainingRunCreate, TrainingRunOut
from linesight_core.http import make_client
from linesight_ui.client_admin import AdminCalls
from linesight_ui.client_datasets import DatasetCalls
from linesight_ui.client_evidence import EvidenceCalls
from linesight_ui.client_labels import LabelCalls
from linesight_ui.client_stations import StationCalls

API_KEY_HEADER = "X-API-Key"
# The gateway's largest page; the UI lists stations and models whole.
MAX_PAGE = 500
# An inspection waits for the model up to the gateway's own inference timeout, and so may take longer
# than an ordinary call.
INSPECT_TIMEOUT_SECONDS = 60.0

T = TypeVar("T")
# Inspections, stations and feedback are the gateway's own bodies (not in linesight_core.contracts):
# the UI reads them as the JSON objects the API documents.
Json = dict[str, Any]


class GatewayUnreachable(Exception):
    """No HTTP answer from the gateway (refused, timed out, name not resolved)."""


class GatewayKeyRejected(Exception):
    """The gateway answered 401 (unknown key) or 403 (the key's role is too low for the call)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class GatewayError(Exception):
    """The gateway answered, but not with what the UI asked for. `problems`: every problem the answer
    lists (the `errors` of a refused archive or set of labels), each in words; often empty. `body`: the
    problem+json answer itself, for the problems a page reads more of (a promotion gate's figures)."""

    def __init__(
        self, status: int, detail: str, problems: Sequence[str] = (), body: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = list(problems)
        self.body: dict[str, Any] = dict(body or {})


def _problem_detail(resp: httpx.Response) -> str:
    try:
        body: Any = resp.json()
    except ValueError:
        return resp.text[:200] or resp.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"]
    return resp.reason_phrase


def _problem_body(resp: httpx.Response) -> dict[str, Any]:
    try:
        body: Any = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _problem_list(resp: httpx.Response) -> list[str]:
    """The problems a problem+json answer lists in `errors` as sentences (a refused archive's); a field
    validation's entries ({loc, msg}) are left out, the detail already sums them up."""
    try:
        body: Any = resp.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, str)] if isinstance(errors, list) else []


def _params(**values: Any) -> dict[str, Any]:
    """Query parameters without the unset ones; datetimes as ISO-8601."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bool):
            value = str(value).lower()
        out[key] = value
    return out


class GatewayClient(LabelCalls, DatasetCalls, StationCalls, AdminCalls, EvidenceCalls):
    """Calls as one credential: a person's session token or personal API key (both go in X-API-Key)."""

    def __init__(self, base_url: str, credential: str, *, timeout: float = 10.0, retries: int = 2) -> None:
        self.base_url = base_url
        self.credential = credential
        headers = {API_KEY_HEADER: credential} if credential else {}
        self._client = make_client(base_url, timeout=timeout, retries=retries, headers=headers)

    # --- transport -----------------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        try:
            resp = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise GatewayUnreachable(f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code in (401, 403):
            raise GatewayKeyRejected(resp.status_code, _problem_detail(resp))
        if resp.status_code not in ok:
            raise GatewayError(
                resp.status_code, _problem_detail(resp), _problem_list(resp), _problem_body(resp)
            )
        return resp

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return self._send("GET", path, params=params)

    @staticmethod
    def _parse(kind: type[T] | Any, resp: httpx.Response) -> T:
        try:
            return TypeAdapter(kind).validate_json(resp.content)  # type: ignore[no-any-return]
        except ValidationError as exc:
            raise GatewayError(resp.status_code, f"unexpected answer from the gateway: {exc}") from exc

    @staticmethod
    def _json(resp: httpx.Response) -> Json:
        try:
            body = resp.json()
        except ValueError as exc:
            raise GatewayError(resp.status_code, "the gateway answered something that is not JSON") from exc
        if not isinstance(body, dict):
            raise GatewayError(resp.status_code, "the gateway answered a JSON value that is not an object")
        return body

    # --- system --------------------------------------------------------------------------------------

    def system_health(self) -> ServicesStatus:
        """Readiness of every service, the gateway included, as the gateway sees it."""
        return self._parse(ServicesStatus, self._get("/api/v1/system/services"))

    def whoami(self) -> Json:
        """Who this client calls as: name, display_name, role (`viewer` ... `admin`), kind (`user` for a
        signed-in person, `api_key`), session_expires_at."""
        return self._json(self._get("/api/v1/me"))

    # --- sign-in -------------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> Json:
        """{token, expires_at, user}; a wrong username or password is GatewayKeyRejected(401), too many
        failures GatewayError(429) (its detail says when to try again)."""
        body = {"username": username, "password": password}
        return self._json(self._send("POST", "/api/v1/auth/login", json=body))

    def logout(self) -> None:
        """End the session this client calls with."""
        self._send("POST", "/api/v1/auth/logout", ok=(204,))

    # --- stations and inspections --------------------------------------------------------------------

    def stations(self, *, active: bool | None = None) -> list[Json]:
        body = self._json(self._get("/api/v1/stations", _params(active=active, limit=MAX_PAGE)))
        return list(body.get("items", []))

    def inspect(self, station_id: str, photo: bytes, filename: str, content_type: str) -> Json:
        """Send one photo; the answer is `completed` (201) or `pending` (202: kept, judged later)."""
        resp = self._send(
            "POST",
            "/api/v1/inspections",
            ok=(201, 202),
            data={"station_id": station_id},
            files={"image": (filename, photo, content_type)},
            timeout=INSPECT_TIMEOUT_SECONDS,
        )
        return self._json(resp)

    def inspections(
        self,
        *,
        station_id: str | None = None,
        status: str | None = None,
        verdict: str | None = None,
        confidence_status: str | None = None,
        has_feedback: bool | None = None,
        unusual: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Json:
        """One page of the history, newest first: {items, total, limit, offset}."""
        params = _params(
            station_id=station_id,
            status=status,
            verdict=verdict,
            confidence_status=confidence_status,
            has_feedback=has_feedback,
            unusual=unusual,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
        return self._json(self._get("/api/v1/inspections", params))

    def inspection(self, inspection_id: str) -> Json:
        return self._json(self._get(f"/api/v1/inspections/{inspection_id}"))

    def inspection_image(self, inspection_id: str, *, annotated: bool = True) -> bytes:
        """The stored photo, or (annotated) a JPEG with the boxes and the verdict drawn on it."""
        kind = "annotated" if annotated else "image"
        return self._get(f"/api/v1/inspections/{inspection_id}/{kind}").content

    def feedback(self, inspection_id: str) -> Json | None:
        """The feedback with its history, or None when nobody gave any yet."""
        resp = self._send("GET", f"/api/v1/inspections/{inspection_id}/feedback", ok=(200, 404))
        if resp.status_code == 404:
            # A 404 also answers an unknown inspection; the inspection itself was read before this.
            return None
        return self._json(resp)

    def give_feedback(self, inspection_id: str, body: Mapping[str, Any]) -> Json:
        resp = self._send("POST", f"/api/v1/inspections/{inspection_id}/feedback", ok=(200, 201), json=body)
        return self._json(resp)

    # --- models --------------------------------------------------------------------------------------

    def models(self) -> list[ModelOut]:
        page = self._parse(Page[ModelOut], self._get("/api/v1/models", {"limit": MAX_PAGE}))
        return page.items

    def model_versions(self, name: str) -> list[ModelVersionOut]:
        resp = self._get(f"/api/v1/models/{name}/versions", {"limit": MAX_PAGE})
        return self._parse(Page[ModelVersionOut], resp).items

    def model_version(self, name: str, version: int) -> ModelVersionOut:
        return self._parse(ModelVersionOut, self._get(f"/api/v1/models/{name}/versions/{version}"))

    def compare_versions(self, name: str, versions: list[int]) -> VersionComparison:
        params = {"versions": ",".join(str(v) for v in versions)}
        return self._parse(VersionComparison, self._get(f"/api/v1/models/{name}/compare", params))

    def aliases(self, name: str) -> list[AliasOut]:
        return self._parse(list[AliasOut], self._get(f"/api/v1/models/{name}/aliases"))

    def alias_history(self, name: str, *, limit: int = 50, offset: int = 0) -> Page[AliasEventOut]:
        resp = self._get(f"/api/v1/models/{name}/alias-history", {"limit": limit, "offset": offset})
        return self._parse(Page[AliasEventOut], resp)

    def move_alias(
        self, name: str, alias: str, version: int, reason: str, *, override_reason: str | None = None
    ) -> AliasOut:
        """Point `alias` at `version` (promotion or roll-back); the gateway records who did it. A move the
        promotion gate refuses is GatewayError(409) with the gate's figures in its `body`;
        `override_reason` (admins) moves it anyway, audited."""
        body: dict[str, Any] = {"version": version, "reason": reason}
        if override_reason:
            body["override_reason"] = override_reason
        return self._parse(AliasOut, self._send("PUT", f"/api/v1/models/{name}/aliases/{alias}", json=body))

    # --- training runs -------------------------------------------------------------------------------

    def training_runs(
        self, *, status: str | None = None, dataset: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[TrainingRunOut]:
        params = _params(status=status, dataset=dataset, limit=limit, offset=offset)
        return self._parse(Page[TrainingRunOut], self._get("/api/v1/training-runs", params))

    def training_run(self, run_id: uuid.UUID | str) -> TrainingRunOut:
        return self._parse(TrainingRunOut, self._get(f"/api/v1/training-runs/{run_id}"))

    def run_epochs(self, run_id: uuid.UUID | str) -> list[EpochRecord]:
        return self._parse(list[EpochRecord], self._get(f"/api/v1/training-runs/{run_id}/epochs"))

    def run_artifact(self, run_id: uuid.UUID | str, name: str) -> bytes:
        """An evaluation plot (`pr_curve.png`, ...) of a run."""
        return self._get(f"/api/v1/training-runs/{run_id}/artifacts/{name}").content

    def start_training(self, request: TrainingRunCreate) -> TrainingRunOut:
        body = request.model_dump(mode="json", exclude_none=True)
        resp = self._send("POST", "/api/v1/training-runs", ok=(201,), json=body)
        return self._parse(TrainingRunOut, resp)

    def cancel_run(self, run_id: uuid.UUID | str) -> TrainingRunOut:
        return self._parse(TrainingRunOut, self._send("POST", f"/api/v1/training-runs/{run_id}/cancel"))

    def close(self) -> None:
        self._client.close()
