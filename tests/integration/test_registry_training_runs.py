"""Training runs in the registry on real Postgres, Redis (the Celery broker) and S3 store: a run is queued
as a real Celery message, the worker's side is played over HTTP with the worker's own client, the
sweeper fails runs whose worker went silent, and champion/challenger moves the staging alias."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import pickle
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import onnx
import pytest
import redis
from fastapi import FastAPI

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.training import TrainingRunsClient
from linesight_core.contracts.training import EpochProgress, RunFinish
from linesight_core.db import session_scope
from linesight_core.events import MODEL_PROMOTED, make_redis
from linesight_core.storage import ObjectStore
from linesight_registry.db.models import Dataset, DatasetVersion
from linesight_registry.domain.sweeper import sweep_once
from linesight_registry.main import create_app
from linesight_registry.settings import RegistrySettings
from tests.support.servers import free_port, private_broker, serve
from tests.support.yolo_models import detect_model

TOKEN = "registry-training-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DETECT_CLASSES = ["wrench", "screwdriver", "tape"]


@dataclass
class Registry:
    app: FastAPI
    settings: RegistrySettings
    http: httpx.Client  # the engineer (through the gateway, in production)
    worker: TrainingRunsClient  # the training worker
    broker: redis.Redis
    url: str

    @property
    def store(self) -> ObjectStore:
        return self.app.state.store

    def add_dataset_version(
        self,
        name: str = "bench-tools",
        task: str = "detect",
        class_names: list[str] | None = None,
        version: int = 1,
        splits: dict[str, int] | None = None,
    ) -> uuid.UUID:
        """A dataset version as the datasets API leaves it (the rows; training runs read no more)."""
        with session_scope(self.app.state.session_factory) as session:
            dataset = session.query(Dataset).filter_by(name=name).one_or_none()
            if dataset is None:
                dataset = Dataset(name=name, task=task, class_names=class_names or DETECT_CLASSES)
                session.add(dataset)
                session.flush()
            row = DatasetVersion(
                dataset_id=dataset.id,
                version=version,
                task=dataset.task,
                class_names=dataset.class_names,
                manifest_key=f"manifests/{name}/{version}.json",
                manifest_sha256="0" * 64,
                item_count=sum((splits or {"train": 8, "val": 2, "test": 2}).values()),
                split_counts=splits or {"train": 8, "val": 2, "test": 2},
                class_counts={},
                diff={"against": None, "added": [], "removed": [], "relabelled": []},
            )
            session.add(row)
            session.flush()
            return row.id

    def create_run(self, **fields: Any) -> dict[str, Any]:
        body = {"dataset": "bench-tools", "dataset_version": 1, "model_name": "bench", **fields}
        if "base_model" not in body:
            body.setdefault("architecture", "yolov8n.yaml")
        resp = self.http.post("/v1/training-runs", json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def queued(self) -> list[dict[str, Any]]:
        """The Celery messages waiting in the `training` queue: headers and decoded args."""
        out = []
        for raw in self.broker.lrange("training", 0, -1):
            message = json.loads(raw)
            args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            out.append({**message["headers"], "args": args, "kwargs": kwargs})
        return out


@pytest.fixture
def broker_url(redis_url: str) -> Iterator[str]:
    """A Redis database of its own for the Celery broker, emptied before and after the test."""
    url = private_broker(redis_url, "registry-runs")
    client = redis.Redis.from_url(url)
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def start_registry(fresh_service_env, broker_url, monkeypatch) -> Iterator[Any]:
    with contextlib.ExitStack() as stack:

        def start(**env: str) -> Registry:
            settings_env = {
                **fresh_service_env,
                "LINESIGHT_SERVICE_TOKEN": TOKEN,
                "LINESIGHT_LOG_FORMAT": "console",
                "LINESIGHT_CELERY_BROKER_URL": broker_url,
                **env,
            }
            for key, value in settings_env.items():
                monkeypatch.setenv(key, value)
            settings = RegistrySettings()
            app = create_app(settings)
            url = stack.enter_context(serve(app))
            http = stack.enter_context(httpx.Client(base_url=url, headers=AUTH, timeout=30))
            worker = stack.enter_context(TrainingRunsClient(url, TOKEN, retries=1))
            broker = redis.Redis.from_url(broker_url)
            stack.callback(broker.close)
            return Registry(app, settings, http, worker, broker, url)

        yield start


@pytest.fixture
def registry(start_registry) -> Registry:
    return start_registry()


@pytest.fixture(scope="module")
def detect_onnx() -> Path:
    return detect_model()


def onnx_variant(src: Path, tmp_path: Path, tag: str) -> Path:
    """The same model with one metadata field changed: new bytes, so a new version."""
    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == "date":
            prop.value = f"variant-{tag}"
    out = tmp_path / f"variant-{tag}.onnx"
    onnx.save(model, str(out))
    return out


def evaluation(
    challenger: float, champion: float | None = None, version: int | None = None
) -> dict[str, Any]:
    return {
        "split": "test",
        "challenger": {"metrics": {"mAP50-95": challenger, "mAP50": challenger + 0.2}},
        "champion": None
        if champion is None
        else {"version": version, "metrics": {"mAP50-95": champion, "mAP50": champion + 0.2}},
    }


def train_and_register(
    registry: Registry,
    path: Path,
    *,
    score: float,
    champion: float | None = None,
    champion_version: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Create a run and play the worker through it: start, one epoch, upload the ONNX, finish."""
    run = registry.create_run(**fields)
    started = registry.worker.start(run["id"], "training@test", run["task_id"])
    assert started is not None
    report = EpochProgress(epoch=1, epochs=run["epochs"], metrics={"mAP50-95": score}, elapsed_s=1.0)
    assert registry.worker.progress(run["id"], report).stop is False
    version = registry.worker.upload_model_version(
        run["model_name"],
        path,
        metrics={"mAP50-95": score},
        params={"epochs": run["epochs"]},
        dataset_version_id=run["dataset_version_id"],
        training_run_id=run["id"],
        created_by=f"training:{run['id']}",
    )
    finished = registry.worker.finish(
        run["id"],
        RunFinish(
            status="succeeded",
            model_version=version["version"],
            evaluation=evaluation(score, champion, champion_version),
            artifacts={"best.pt": f"runs/{run['id']}/best.pt"},
            metrics={"mAP50-95": score},
            attempt=started.attempt,
        ),
    )
    return finished.model_dump(mode="json")


def aliases(registry: Registry, model: str = "bench") -> dict[str, int]:
    return registry.http.get(f"/v1/models/{model}").json()["aliases"]


# --- creating and queueing ----------------------------------------------------------------------------


def test_a_new_run_is_stored_and_queued_as_a_celery_task(registry):
    dataset_version_id = registry.add_dataset_version()
    resp = registry.http.post(
        "/v1/training-runs",
        json={
            "dataset": "bench-tools",
            "dataset_version": 1,
            "model_name": "bench",
            "architecture": "yolo11n",
            "epochs": 5,
            "imgsz": 320,
            "batch": 4,
            "seed": 7,
            "patience": 3,
            "time_limit_seconds": 900,
            "notes": "first try",
        },
        headers={"X-LineSight-Actor": "anna"},
    )
    assert resp.status_code == 201, resp.text
    run = resp.json()
    assert run["status"] == "queued"
    assert run["kind"] == "train"
    assert run["task"] == "detect"
    assert run["architecture"] == "yolo11n.yaml"
    assert run["selection_metric"] == "mAP50-95"
    assert run["dataset_version_id"] == str(dataset_version_id)
    assert (run["epochs"], run["imgsz"], run["batch"], run["seed"], run["patience"]) == (5, 320, 4, 7, 3)
    assert run["created_by"] == "anna"
    assert run["attempt"] == 0 and run["progress"] is None and run["epochs_done"] == 0

    # the target model did not exist: it was created with the dataset's task
    model = registry.http.get("/v1/models/bench").json()
    assert model["task"] == "detect"

    [message] = registry.queued()
    assert message["task"] == "linesight.training.run"
    assert message["args"] == [run["id"]]
    assert message["id"] == run["task_id"]
    assert message["timelimit"] == [900 + 60, 900]  # [hard, soft]

    assert registry.http.get(f"/v1/training-runs/{run['id']}").json() == run
    metrics = registry.http.get("/metrics").text
    assert 'linesight_registry_training_runs_total{kind="train",status="queued"}' in metrics


def test_bad_parameters_are_422_and_unknown_things_404(registry, detect_onnx):
    registry.add_dataset_version()
    registry.add_dataset_version("seals", task="classify", class_names=["ok", "nok"])
    registry.add_dataset_version("no-eval", splits={"train": 10})
    base = {"dataset": "bench-tools", "dataset_version": 1, "model_name": "bench"}
    for bad in (
        {},  # no starting point
        {"architecture": "yolov8n.yaml", "base_model": "bench", "base_version": 1},
        {"base_model": "bench"},
        {"architecture": "yolov8n.pt"},
        {"architecture": "../yolov8n.yaml"},
        {"architecture": "yolov8n.yaml", "imgsz": 100},
        {"architecture": "yolov8n.yaml", "imgsz": 4096},
        {"architecture": "yolov8n.yaml", "epochs": 0},
        {"architecture": "yolov8n.yaml", "epochs": 1001},
        {"architecture": "yolov8n.yaml", "batch": 257},
        {"architecture": "yolov8n.yaml", "time_limit_seconds": 10},
        {"architecture": "yolov8n.yaml", "selection_metric": "map; drop table"},
        {"architecture": "yolov8n-cls.yaml"},  # a classify architecture for a detect dataset
        {"architecture": "yolov8n.yaml", "dataset": "seals"},  # and the other way round
        {"architecture": "yolov8n.yaml", "dataset": "no-eval"},  # nothing to evaluate on
    ):
        resp = registry.http.post("/v1/training-runs", json={**base, **bad})
        assert resp.status_code == 422, (bad, resp.text)
        assert resp.headers["content-type"] == "application/problem+json"

    assert registry.http.post("/v1/models", json={"name": "sorter", "task": "classify"}).status_code == 201
    wrong_task = registry.http.post(
        "/v1/training-runs", json={**base, "model_name": "sorter", "architecture": "yolov8n.yaml"}
    )
    assert wrong_task.status_code == 422
    assert "classify" in wrong_task.json()["detail"]

    # fine-tuning needs PyTorch weights; a version uploaded as ONNX has none
    registry.http.post("/v1/models", json={"name": "bench", "task": "detect"})
    with detect_onnx.open("rb") as fh:
        assert registry.http.post("/v1/models/bench/versions", files={"file": fh}).status_code == 201
    no_weights = registry.http.post(
        "/v1/training-runs", json={**base, "base_model": "bench", "base_version": 1}
    )
    assert no_weights.status_code == 422
    assert "no PyTorch weights" in no_weights.json()["detail"]

    for unknown in (
        {"dataset": "nope", "architecture": "yolov8n.yaml"},
        {"dataset_version": 9, "architecture": "yolov8n.yaml"},
        {"base_model": "nope", "base_version": 1},
        {"base_model": "bench", "base_version": 9},
    ):
        assert registry.http.post("/v1/training-runs", json={**base, **unknown}).status_code == 404, unknown

    missing = uuid.uuid4()
    assert registry.http.get(f"/v1/training-runs/{missing}").status_code == 404
    assert registry.http.get(f"/v1/training-runs/{missing}/epochs").status_code == 404
    assert registry.http.post(f"/v1/training-runs/{missing}/cancel").status_code == 404
    assert registry.http.post(f"/v1/training-runs/{missing}/heartbeat", json={}).status_code == 404
    with pytest.raises(UpstreamError) as err:
        registry.worker.start(missing, "w", "t")
    assert err.value.status == 404
    with pytest.raises(UpstreamError) as err:
        registry.worker.progress(missing, EpochProgress(epoch=1, epochs=1, elapsed_s=0))
    assert err.value.status == 404
    assert registry.http.get("/v1/training-runs/not-a-uuid").status_code == 422
    assert registry.queued() == []  # nothing refused was queued


def test_runs_are_listed_newest_first_with_filters(registry):
    registry.add_dataset_version()
    registry.add_dataset_version("bench-tools", version=2)
    first = registry.create_run()
    second = registry.create_run(model_name="bench-b", dataset_version=2)
    third = registry.create_run()
    registry.http.post(f"/v1/training-runs/{second['id']}/cancel")

    page = registry.http.get("/v1/training-runs").json()
    assert [r["id"] for r in page["items"]] == [third["id"], second["id"], first["id"]]
    assert page["total"] == 3
    assert [
        r["id"] for r in registry.http.get("/v1/training-runs", params={"model": "bench"}).json()["items"]
    ] == [
        third["id"],
        first["id"],
    ]
    queued = registry.http.get(
        "/v1/training-runs", params={"status": "queued", "limit": 1, "offset": 1}
    ).json()
    assert queued["total"] == 2
    assert [r["id"] for r in queued["items"]] == [first["id"]]
    cancelled = registry.http.get("/v1/training-runs", params={"status": "cancelled"}).json()
    assert [r["id"] for r in cancelled["items"]] == [second["id"]]
    assert registry.http.get("/v1/training-runs", params={"dataset": "other"}).json()["total"] == 0
    assert registry.http.get("/v1/training-runs", params={"status": "sleeping"}).status_code == 422


def test_an_unreachable_broker_is_503_and_the_run_is_recorded_failed(start_registry):
    registry = start_registry(LINESIGHT_CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    registry.add_dataset_version()
    resp = registry.http.post(
        "/v1/training-runs",
        json={
            "dataset": "bench-tools",
            "dataset_version": 1,
            "model_name": "bench",
            "architecture": "yolov8n",
        },
    )
    assert resp.status_code == 503
    assert "training queue" in resp.json()["detail"]
    [run] = registry.http.get("/v1/training-runs").json()["items"]
    assert run["status"] == "failed"
    assert "did not take the task" in run["error"]


# --- the worker's side ------------------------------------------------------------------------------


def test_the_worker_plays_a_run_through_to_a_staged_version(registry, detect_onnx, tmp_path):
    registry.add_dataset_version()
    run = registry.create_run(epochs=3)
    worker = registry.worker

    started = worker.start(run["id"], "training@gpu-1", run["task_id"])
    assert started is not None
    assert (started.status, started.attempt, started.worker) == ("running", 1, "training@gpu-1")
    assert started.started_at is not None and started.heartbeat_at is not None
    # the same task delivered to a second worker while the first one is alive: dropped
    assert worker.start(run["id"], "training@gpu-2", run["task_id"]) is None

    for epoch in (1, 2, 3):
        control = worker.progress(
            run["id"],
            EpochProgress(
                epoch=epoch,
                epochs=3,
                losses={"box_loss": 2.0 / epoch, "cls_loss": float("nan")},
                metrics={"mAP50-95": 0.1 * epoch},
                elapsed_s=10.0 * epoch,
                eta_s=10.0 * (3 - epoch),
                attempt=1,
            ),
        )
        assert (control.stop, control.cancel_requested, control.status) == (False, False, "running")
        watched = worker.get(run["id"])
        assert watched.epochs_done == epoch
        assert watched.progress is not None and watched.progress.epoch == epoch
    assert watched.progress.eta_s == 0.0
    assert watched.progress.losses == {"box_loss": 2.0 / 3, "cls_loss": None}  # NaN is reported as null

    epochs = registry.http.get(f"/v1/training-runs/{run['id']}/epochs").json()
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert [e["metrics"]["mAP50-95"] for e in epochs] == pytest.approx([0.1, 0.2, 0.3])
    newer = registry.http.get(f"/v1/training-runs/{run['id']}/epochs", params={"after": 2}).json()
    assert [e["epoch"] for e in newer] == [3]

    assert worker.heartbeat(run["id"], attempt=1).stop is False

    # the champion is the production version: none yet
    assert worker.resolve("bench", "production") is None
    assert worker.resolve("no-such-model", "production") is None
    version = worker.upload_model_version(
        "bench",
        detect_onnx,
        metrics={"mAP50-95": 0.3},
        params={"epochs": 3, "imgsz": 640},
        dataset_version_id=run["dataset_version_id"],
        training_run_id=run["id"],
        created_by=f"training:{run['id']}",
        notes="trained",
    )
    assert version["version"] == 1
    assert version["training_run_id"] == run["id"]
    assert version["dataset_version_id"] == run["dataset_version_id"]

    redis_events = make_redis(registry.settings.redis_url)
    pubsub = redis_events.pubsub()
    pubsub.subscribe(MODEL_PROMOTED)
    pubsub.get_message(timeout=2)
    result = RunFinish(
        status="succeeded",
        model_version=1,
        evaluation=evaluation(0.3),
        artifacts={
            "best.pt": f"runs/{run['id']}/best.pt",
            "confusion_matrix.png": f"runs/{run['id']}/cm.png",
        },
        metrics={"mAP50-95": 0.3},
        attempt=1,
    )
    finished = worker.finish(run["id"], result)
    assert finished.status == "succeeded"
    assert finished.finished_at is not None
    assert (finished.staged, finished.promoted) == (True, False)
    assert "no production version" in finished.decision
    assert finished.artifacts["best.pt"] == f"runs/{run['id']}/best.pt"
    assert aliases(registry) == {"staging": 1}
    event = None
    for _ in range(10):
        msg = pubsub.get_message(timeout=1)
        if msg and msg["type"] == "message":
            event = json.loads(msg["data"])
            break
    pubsub.close()
    assert event is not None and (event["alias"], event["version"]) == ("staging", 1)
    history = registry.http.get("/v1/models/bench/alias-history").json()["items"]
    assert history[0]["moved_by"] == f"training:{run['id']}"
    assert "mAP50-95" in history[0]["reason"]
    assert worker.resolve("bench", "staging")["version"] == 1

    # a lost answer retried: the same finish again is answered the same; anything else is refused
    assert worker.finish(run["id"], result).status == "succeeded"
    with pytest.raises(UpstreamError) as err:
        worker.finish(run["id"], RunFinish(status="failed", error="late"))
    assert err.value.status == 409
    assert worker.start(run["id"], "training@gpu-1", run["task_id"]) is None  # redelivered: dropped
    control = worker.progress(run["id"], EpochProgress(epoch=4, epochs=3, elapsed_s=1))
    assert control.stop and control.status == "succeeded"

    downloaded = worker.download_artifact("bench", 1, tmp_path / "champion.onnx")
    assert downloaded.read_bytes() == detect_onnx.read_bytes()


def test_finish_checks_what_the_worker_claims(registry, detect_onnx):
    registry.add_dataset_version()
    run = registry.create_run()
    finish = f"/v1/training-runs/{run['id']}/finish"
    assert (
        registry.http.post(finish, json={"status": "failed", "error": "x"}).status_code == 409
    )  # not started
    registry.worker.start(run["id"], "w1", run["task_id"])
    assert registry.http.post(finish, json={"status": "succeeded"}).status_code == 422  # which version?
    missing = registry.http.post(finish, json={"status": "succeeded", "model_version": 5})
    assert missing.status_code == 422
    assert "no version 5" in missing.json()["detail"]
    assert registry.http.post(finish, json={"status": "running"}).status_code == 422
    # another task id for the same run is not this run's task
    assert registry.worker.start(run["id"], "w1", "some-other-task") is None

    failed = registry.worker.finish(run["id"], RunFinish(status="failed", error="CUDA out of memory"))
    assert (failed.status, failed.error, failed.staged) == ("failed", "CUDA out of memory", False)
    assert aliases(registry) == {}


def test_champion_challenger_moves_staging_and_only_with_auto_promote_production(
    registry, detect_onnx, tmp_path
):
    registry.add_dataset_version()
    registry.http.post("/v1/models", json={"name": "bench", "task": "detect"})
    with detect_onnx.open("rb") as fh:
        registry.http.post("/v1/models/bench/versions", files={"file": fh})
    assert registry.http.put("/v1/models/bench/aliases/production", json={"version": 1}).status_code == 200

    worse = train_and_register(
        registry, onnx_variant(detect_onnx, tmp_path, "w"), score=0.40, champion=0.45, champion_version=1
    )
    assert (worse["staged"], worse["promoted"]) == (False, False)
    assert "0.4 is not better than 0.45" in worse["decision"]
    assert aliases(registry) == {"production": 1}

    tie = train_and_register(
        registry, onnx_variant(detect_onnx, tmp_path, "t"), score=0.45, champion=0.45, champion_version=1
    )
    assert tie["staged"] is False

    unevaluated = train_and_register(registry, onnx_variant(detect_onnx, tmp_path, "u"), score=0.9)
    assert unevaluated["staged"] is False
    assert "was not evaluated" in unevaluated["decision"]

    better = train_and_register(
        registry, onnx_variant(detect_onnx, tmp_path, "b"), score=0.50, champion=0.45, champion_version=1
    )
    assert (better["staged"], better["promoted"]) == (True, False)
    assert aliases(registry) == {"production": 1, "staging": better["model_version"]}

    # on another metric the same numbers decide the same way; a person still promotes by hand
    auto = train_and_register(
        registry,
        onnx_variant(detect_onnx, tmp_path, "a"),
        score=0.60,
        champion=0.45,
        champion_version=1,
        selection_metric="mAP50",
        auto_promote=True,
    )
    assert (auto["staged"], auto["promoted"]) == (True, True)
    assert "auto-promotion" in auto["decision"]
    assert aliases(registry) == {"production": auto["model_version"], "staging": auto["model_version"]}
    production_moves = registry.http.get(
        "/v1/models/bench/alias-history", params={"alias": "production"}
    ).json()["items"]
    assert production_moves[0]["moved_by"] == f"training:{auto['id']}"
    assert (production_moves[0]["from_version"], production_moves[0]["to_version"]) == (
        1,
        auto["model_version"],
    )

    # compared with an old champion (production moved during the evaluation): not staged
    stale = train_and_register(
        registry, onnx_variant(detect_onnx, tmp_path, "s"), score=0.99, champion=0.45, champion_version=1
    )
    assert stale["staged"] is False
    assert "production is now" in stale["decision"]

    # the weights a run saved are what a later run fine-tunes
    tuned = registry.create_run(base_model="bench", base_version=better["model_version"], epochs=2)
    assert tuned["base_weights_key"] == f"runs/{better['id']}/best.pt"
    assert tuned["architecture"] is None


# --- cancel -----------------------------------------------------------------------------------------


def test_cancel_revokes_a_queued_run_and_stops_a_running_one(registry):
    registry.add_dataset_version()
    queued = registry.create_run()
    control_channel = registry.broker.pubsub()
    control_channel.psubscribe("*celery.pidbox")
    control_channel.get_message(timeout=2)

    cancelled = registry.http.post(f"/v1/training-runs/{queued['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None
    revoke = None
    for _ in range(10):
        msg = control_channel.get_message(timeout=1)
        if msg and msg["type"] == "pmessage":
            revoke = json.loads(base64.b64decode(json.loads(msg["data"])["body"]))
            break
    control_channel.close()
    assert revoke is not None
    assert (revoke["method"], revoke["arguments"]["task_id"]) == ("revoke", queued["task_id"])
    # a worker that missed the revoke asks before it starts, and is told to drop the task
    assert registry.worker.start(queued["id"], "w1", queued["task_id"]) is None
    assert registry.http.post(f"/v1/training-runs/{queued['id']}/cancel").status_code == 409

    running = registry.create_run(epochs=10)
    registry.worker.start(running["id"], "w1", running["task_id"])
    registry.worker.progress(running["id"], EpochProgress(epoch=1, epochs=10, elapsed_s=5))
    asked = registry.http.post(f"/v1/training-runs/{running['id']}/cancel").json()
    assert (asked["status"], asked["cancel_requested"]) == ("running", True)
    control = registry.worker.progress(running["id"], EpochProgress(epoch=2, epochs=10, elapsed_s=9))
    assert (control.stop, control.cancel_requested) == (True, True)
    assert registry.worker.heartbeat(running["id"]).stop is True
    ended = registry.worker.finish(running["id"], RunFinish(status="cancelled"))
    assert (ended.status, ended.epochs_done) == ("cancelled", 2)


# --- crash safety -----------------------------------------------------------------------------------


def test_the_sweeper_fails_a_run_whose_worker_went_silent(start_registry):
    registry = start_registry(
        LINESIGHT_TRAINING_HEARTBEAT_TIMEOUT_SECONDS="1", LINESIGHT_SWEEPER_INTERVAL_SECONDS="0.2"
    )
    registry.add_dataset_version()
    run = registry.create_run()
    started = registry.worker.start(run["id"], "training@lost-node", run["task_id"])
    assert started is not None
    deadline = time.monotonic() + 20
    while (state := registry.worker.get(run["id"])).status == "running":
        assert time.monotonic() < deadline, "the sweeper never failed the run"
        time.sleep(0.2)
    assert state.status == "failed"
    assert state.error.startswith("the worker stopped sending heartbeats at ")
    assert "(worker training@lost-node)" in state.error
    assert state.finished_at is not None
    # the worker comes back: told to stop, and a redelivered task is dropped
    assert registry.worker.heartbeat(run["id"]).stop is True
    assert registry.worker.start(run["id"], "training@other", run["task_id"]) is None
    metrics = registry.http.get("/metrics").text
    assert 'linesight_registry_training_runs_swept_total{reason="heartbeat"}' in metrics
    assert 'linesight_registry_training_runs_active{status="running"} 0.0' in metrics


def test_a_redelivered_run_restarts_when_its_worker_went_silent(start_registry):
    registry = start_registry(
        LINESIGHT_TRAINING_HEARTBEAT_TIMEOUT_SECONDS="1",
        LINESIGHT_SWEEPER_INTERVAL_SECONDS="3600",
        LINESIGHT_TRAINING_MAX_ATTEMPTS="3",
    )
    registry.add_dataset_version()
    run = registry.create_run()
    worker = registry.worker
    assert worker.start(run["id"], "node-a", run["task_id"]).attempt == 1
    worker.progress(run["id"], EpochProgress(epoch=1, epochs=run["epochs"], elapsed_s=3, attempt=1))
    assert worker.start(run["id"], "node-b", run["task_id"]) is None  # node-a is alive
    time.sleep(1.5)
    second = worker.start(run["id"], "node-b", run["task_id"])
    assert second is not None and (second.attempt, second.worker) == (2, "node-b")
    # node-a was not dead after all: it is told that it was superseded, and its epochs are not kept
    old = worker.progress(run["id"], EpochProgress(epoch=2, epochs=run["epochs"], elapsed_s=6, attempt=1))
    assert old.stop is True and "attempt 2" in old.reason
    with pytest.raises(UpstreamError) as err:
        worker.finish(run["id"], RunFinish(status="failed", error="x", attempt=1))
    assert err.value.status == 409
    assert (
        worker.progress(run["id"], EpochProgress(epoch=1, epochs=run["epochs"], elapsed_s=2, attempt=2)).stop
        is False
    )
    assert worker.get(run["id"]).epochs_done == 1
    first_attempt = registry.http.get(f"/v1/training-runs/{run['id']}/epochs", params={"attempt": 1}).json()
    assert [e["epoch"] for e in first_attempt] == [1]

    # node-b's pool process died and the same node got the task back: a third attempt, then no more
    assert worker.start(run["id"], "node-b", run["task_id"]).attempt == 3
    assert worker.start(run["id"], "node-b", run["task_id"]) is None
    gave_up = worker.get(run["id"])
    assert gave_up.status == "failed"
    assert "gave up after 3 attempts" in gave_up.error


def test_the_sweeper_fails_runs_past_their_time_limit(registry):
    registry.add_dataset_version()
    run = registry.create_run(time_limit_seconds=600)
    registry.worker.start(run["id"], "slow-node", run["task_id"])
    factory = registry.app.state.session_factory
    grace = registry.settings.training_time_limit_grace_seconds
    heartbeat = registry.settings.training_heartbeat_timeout_seconds
    assert sweep_once(factory, heartbeat_timeout=heartbeat, grace_seconds=grace) == []
    later = datetime.now(UTC) + timedelta(seconds=600 + grace + 5)
    # a patient heartbeat timeout: only the time limit can fail the run
    [failed] = sweep_once(factory, heartbeat_timeout=10**6, grace_seconds=grace, now=later)
    assert failed.id == uuid.UUID(run["id"])
    state = registry.worker.get(run["id"])
    assert state.status == "failed"
    assert state.error.startswith("time limit exceeded")


# --- .pt uploads ------------------------------------------------------------------------------------


class _WritesAFileWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.marker), "w"))


def hostile_checkpoint(marker: Path) -> bytes:
    """A file laid out like torch.save's zip whose pickle would create `marker` if anyone unpickled it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("best/data.pkl", pickle.dumps({"model": _WritesAFileWhenUnpickled(marker)}))
        archive.writestr("best/byteorder", "little")
        archive.writestr("best/version", "3\n")
    return buffer.getvalue()


def test_pt_upload_is_stored_untouched_and_queued_for_conversion(registry, tmp_path, monkeypatch):
    registry.http.post("/v1/models", json={"name": "bench", "task": "detect"})
    marker = tmp_path / "unpickled"
    payload = hostile_checkpoint(marker)

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the registry unpickled an upload")

    # The registry runs in this process: make any unpickling or torch import fail loudly.
    with monkeypatch.context() as guard:
        guard.setitem(sys.modules, "torch", None)
        for name in ("load", "loads", "Unpickler"):
            guard.setattr(pickle, name, refuse)
        resp = registry.http.post(
            "/v1/models/bench/versions/from-pt",
            files={"file": ("best.pt", payload, "application/octet-stream")},
            data={"imgsz": "320", "notes": "from the vendor"},
            headers={"X-LineSight-Actor": "anna"},
        )
    assert resp.status_code == 201, resp.text
    run = resp.json()
    assert (run["kind"], run["status"], run["task"], run["imgsz"]) == ("convert", "queued", "detect", 320)
    assert run["created_by"] == "anna"
    assert run["source_key"] == f"uploads/{run['source_sha256']}.pt"
    assert registry.store.get_bytes(registry.settings.bucket("models"), run["source_key"]) == payload
    assert not marker.exists()
    [message] = registry.queued()
    assert (message["task"], message["args"]) == ("linesight.training.convert", [run["id"]])

    not_torch = registry.http.post(
        "/v1/models/bench/versions/from-pt", files={"file": ("x.pt", b"\x80\x02}q\x00.")}
    )
    assert not_torch.status_code == 422
    assert "torch.save" in not_torch.json()["detail"]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("notes.txt", "hello")
    no_pickle = registry.http.post(
        "/v1/models/bench/versions/from-pt", files={"file": ("x.pt", zipped.getvalue())}
    )
    assert no_pickle.status_code == 422
    assert (
        registry.http.post("/v1/models/nope/versions/from-pt", files={"file": ("x.pt", payload)}).status_code
        == 404
    )
    both = registry.http.post(
        "/v1/models/bench/versions/from-pt",
        files={"file": ("x.pt", payload)},
        data={"dataset": "bench-tools"},
    )
    assert both.status_code == 422
    assert len(registry.queued()) == 1


def test_pt_upload_over_the_limit_is_413(start_registry, tmp_path):
    registry = start_registry(LINESIGHT_MAX_PT_BYTES="1000")
    registry.http.post("/v1/models", json={"name": "bench", "task": "detect"})
    resp = registry.http.post(
        "/v1/models/bench/versions/from-pt",
        files={"file": ("big.pt", hostile_checkpoint(tmp_path / "m") * 20)},
    )
    assert resp.status_code == 413
    assert registry.queued() == []
