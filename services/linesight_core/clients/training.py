"""Synchronous client of the registry for the training worker: the run lifecycle (start, progress,
heartbeat, finish), dataset exports, model version uploads and artifact downloads."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from linesight_core.clients.errors import UpstreamError, raise_for_problem, transport_error
from linesight_core.contracts.training import (
    EpochProgress,
    RunControl,
    RunFinish,
    RunHeartbeat,
    RunStart,
    TrainingRunOut,
)
from linesight_core.http import RETRY_ERRORS, make_client

log = logging.getLogger(__name__)

SERVICE = "registry"
CHUNK = 1024 * 1024
RunId = uuid.UUID | str
T = TypeVar("T")


class TrainingRunsClient:
    """Every call that changes a run is safe to repeat, so POSTs are retried on transport errors too
    (the shared transport retries only idempotent methods)."""

    def __init__(
        self,
        base_url: str,
        service_token: str,
        *,
        timeout: float = 30.0,
        transfer_timeout: float = 600.0,
        retries: int = 3,
    ) -> None:
        self.http = make_client(base_url, service_token=service_token, timeout=timeout, retries=retries)
        self.retries = retries
        self.transfer_timeout = transfer_timeout

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TrainingRunsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------------------

    def _send(self, make: Callable[[], T], *, retry: bool = True) -> T:
        attempt = 0
        while True:
            try:
                return make()
            except RETRY_ERRORS as exc:
                if not retry or attempt >= self.retries:
                    raise transport_error(SERVICE, exc) from exc
                log.info(
                    "retrying registry call", extra={"attempt": attempt + 1, "error": type(exc).__name__}
                )
            except httpx.HTTPError as exc:
                raise transport_error(SERVICE, exc) from exc
            time.sleep(min(0.5 * 2**attempt, 5.0))
            attempt += 1

    def _post(self, path: str, body: Any = None) -> httpx.Response:
        return self._send(lambda: self.http.post(path, json=body))

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        # GETs are retried by the shared transport already.
        return self._send(lambda: self.http.get(path, params=params), retry=False)

    @staticmethod
    def _checked(resp: httpx.Response) -> httpx.Response:
        raise_for_problem(SERVICE, resp)
        return resp

    # --- the run's lifecycle -------------------------------------------------------------------------

    def get(self, run_id: RunId) -> TrainingRunOut:
        return TrainingRunOut.model_validate(self._checked(self._get(f"/v1/training-runs/{run_id}")).json())

    def start(self, run_id: RunId, worker: str, task_id: str) -> TrainingRunOut | None:
        """Take the run. None when the registry refuses (409: finished, cancelled, or running on another
        live worker): the task is to be dropped without running."""
        body = RunStart(worker=worker, task_id=task_id).model_dump()
        resp = self._post(f"/v1/training-runs/{run_id}/start", body)
        if resp.status_code == 409:
            log.info("run refused by the registry", extra={"run_id": str(run_id), "detail": _detail(resp)})
            return None
        return TrainingRunOut.model_validate(self._checked(resp).json())

    def progress(self, run_id: RunId, report: EpochProgress) -> RunControl:
        """Report one finished epoch; stop when the answer's `stop` is true."""
        resp = self._post(f"/v1/training-runs/{run_id}/progress", report.model_dump(mode="json"))
        return RunControl.model_validate(self._checked(resp).json())

    def heartbeat(self, run_id: RunId, attempt: int | None = None) -> RunControl:
        body = RunHeartbeat(attempt=attempt).model_dump()
        resp = self._post(f"/v1/training-runs/{run_id}/heartbeat", body)
        return RunControl.model_validate(self._checked(resp).json())

    def finish(self, run_id: RunId, result: RunFinish) -> TrainingRunOut:
        """Report the end of the run. Raises UpstreamError(409) when the run was finished otherwise
        meanwhile (failed by the sweeper, or taken over by a newer attempt)."""
        resp = self._post(f"/v1/training-runs/{run_id}/finish", result.model_dump(mode="json"))
        return TrainingRunOut.model_validate(self._checked(resp).json())

    # --- data in and out -----------------------------------------------------------------------------

    def download_dataset_export(self, dataset: str, version: int, dest_zip_path: str | Path) -> Path:
        """Stream a dataset version's YOLO zip to `dest_zip_path` (written whole or not at all)."""
        dest = Path(dest_zip_path)
        path = f"/v1/datasets/{dataset}/versions/{version}/export"
        self._send(lambda: self._stream_to(self.http, "GET", path, dest))
        return dest

    def upload_model_version(
        self,
        model_name: str,
        onnx_path: str | Path,
        *,
        metrics: dict[str, Any],
        params: dict[str, Any],
        dataset_version_id: uuid.UUID | str | None,
        training_run_id: uuid.UUID | str | None,
        created_by: str,
        notes: str = "",
    ) -> dict[str, Any]:
        """Register an ONNX file as a new version; the answer is the version (ModelVersionOut as a dict).
        Repeating it is harmless: the registry answers the existing version for the same bytes."""
        data = {
            "metrics": json.dumps(metrics, default=str),
            "params": json.dumps(params, default=str),
            "created_by": created_by,
            "notes": notes,
        }
        if dataset_version_id is not None:
            data["dataset_version_id"] = str(dataset_version_id)
        if training_run_id is not None:
            data["training_run_id"] = str(training_run_id)

        def upload() -> httpx.Response:
            with open(onnx_path, "rb") as fh:
                return self.http.post(
                    f"/v1/models/{model_name}/versions",
                    files={"file": (Path(onnx_path).name, fh, "application/octet-stream")},
                    data=data,
                    timeout=self.transfer_timeout,
                )

        result: dict[str, Any] = self._checked(self._send(upload)).json()
        return result

    def resolve(self, model_name: str, alias: str) -> dict[str, Any] | None:
        """The version an alias points at (ModelVersionOut as a dict), or None when the model or the
        alias does not exist."""
        resp = self._get(f"/v1/models/{model_name}/resolve", {"alias": alias})
        if resp.status_code == 404:
            return None
        result: dict[str, Any] = self._checked(resp).json()
        return result

    def download_artifact(self, model_name: str, version: int, dest: str | Path) -> Path:
        """Download a version's ONNX file to `dest` and check its sha256 against the registry's."""
        link = self._checked(self._get(f"/v1/models/{model_name}/versions/{version}/download")).json()
        dest = Path(dest)
        # The presigned URL carries its own signature: no service token, no base URL.
        with httpx.Client(timeout=httpx.Timeout(self.transfer_timeout, connect=5.0)) as s3:
            digest = self._send(lambda: self._stream_to(s3, "GET", link["url"], dest))
        if digest != link["sha256"]:
            dest.unlink(missing_ok=True)
            raise UpstreamError(
                SERVICE, 502, f"{model_name} v{version}: downloaded sha256 {digest} != {link['sha256']}"
            )
        return dest

    def _stream_to(self, client: httpx.Client, method: str, url: str, dest: Path) -> str:
        """Stream a response body into `dest` through a temporary file; returns its sha256."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".part")
        digest = hashlib.sha256()
        try:
            with client.stream(method, url, timeout=self.transfer_timeout) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise_for_problem(SERVICE, resp)
                with partial.open("wb") as out:
                    for chunk in resp.iter_bytes(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            partial.replace(dest)
        finally:
            partial.unlink(missing_ok=True)
        return digest.hexdigest()


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    return str(body.get("detail", "")) if isinstance(body, dict) else str(body)[:200]
