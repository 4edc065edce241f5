"""Training runs on a real registry and a real training worker (`python -m linesight_training`) with Redis
as the broker and the S3 store: a run reports its epochs and can be cancelled at an epoch end; a worker
killed mid-run (SIGKILL, the whole process group) leaves a run that the registry marks failed once its
heartbeats stop, instead of `running` forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.servers import free_port, private_broker
from tests.support.services import ServiceProcess
from tests.support.synthetic import write_detect_zip

pytestmark = pytest.mark.integration

TOKEN = "training-runs-test-token"
HEARTBEAT_TIMEOUT = 15  # seconds without a heartbeat: long enough for a busy machine (two test workers)


class Worker:
    """The worker in its own process group: killing the group kills the Celery main process and its pool
    children at once, as a crashed container would."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.port = free_port()
        tmp.mkdir(parents=True, exist_ok=True)
        self.log_path = tmp / "worker.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "linesight_training"],
            env={
                **os.environ,
                **env,
                "LINESIGHT_HOST": "127.0.0.1",
                "LINESIGHT_PORT": str(self.port),
                "LINESIGHT_LOG_FORMAT": "console",
                "LINESIGHT_WORKER_HOSTNAME": f"test-{uuid.uuid4().hex[:6]}@%h",
                "LINESIGHT_METRICS_DIR": str(tmp / "metrics"),
                "LINESIGHT_YOLO_CONFIG_DIR": str(tmp / "ultralytics"),
                "LINESIGHT_TRAINING_WORK_DIR": str(tmp / "work"),
                "LINESIGHT_HEARTBEAT_INTERVAL_SECONDS": "1",
            },
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture(scope="module")
def env(postgres_url, redis_url, s3_env):
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    broker = private_broker(redis_url, "worker-runs")
    yield {
        **s3_env,
        "LINESIGHT_DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
        "LINESIGHT_REDIS_URL": redis_url,
        "LINESIGHT_CELERY_BROKER_URL": broker,
        "LINESIGHT_S3_BUCKET_PREFIX": f"ls-{uuid.uuid4().hex[:10]}",
        "LINESIGHT_SERVICE_TOKEN": TOKEN,
    }
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def registry(env, tmp_path_factory):
    log = tmp_path_factory.mktemp("registry") / "registry.log"
    proc = ServiceProcess(
        "linesight_registry",
        {
            **env,
            "LINESIGHT_TRAINING_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT),
            "LINESIGHT_SWEEPER_INTERVAL_SECONDS": "1",
        },
        log,
    )
    try:
        proc.wait_ready()
        with httpx.Client(
            base_url=proc.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
        ) as http:
            http.env = {**env, "LINESIGHT_REGISTRY_URL": proc.url}  # type: ignore[attr-defined]
            yield http
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def dataset_version(registry, tmp_path_factory):
    body = {"name": "kill-bench", "task": "detect", "class_names": ["wrench", "screwdriver", "tape"]}
    assert registry.post("/v1/datasets", json=body).status_code == 201
    archive = write_detect_zip(tmp_path_factory.mktemp("data") / "bench.zip", 32, seed=3, size=(160, 120))
    with archive.open("rb") as fh:
        resp = registry.post(
            "/v1/datasets/kill-bench/imports", files={"file": ("bench.zip", fh)}, data={"format": "yolo"}
        )
    assert resp.status_code == 200, resp.text
    resp = registry.post("/v1/datasets/kill-bench/versions", json={"notes": "kill test"})
    assert resp.status_code == 201, resp.text
    return resp.json()["version"]


def start_run(registry, version: int, epochs: int) -> str:
    resp = registry.post(
        "/v1/training-runs",
        json={
            "dataset": "kill-bench",
            "dataset_version": version,
            "model_name": "kill-bench",
            "architecture": "yolov8n.yaml",
            "epochs": epochs,
            "imgsz": 96,
            "batch": 8,
            "patience": 0,
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def wait_run(registry, run_id: str, until, worker: Worker, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = registry.get(f"/v1/training-runs/{run_id}").json()
        if until(run):
            return run
        assert time.monotonic() < deadline, f"run never reached the state: {run}\n{worker.output()}"
        time.sleep(0.5)


def test_cancel_stops_a_running_run_at_the_end_of_the_epoch(registry, dataset_version, tmp_path):
    worker = Worker(registry.env, tmp_path / "w")
    try:
        run_id = start_run(registry, dataset_version, epochs=100)
        wait_run(registry, run_id, lambda r: r["epochs_done"] >= 1, worker)
        assert registry.post(f"/v1/training-runs/{run_id}/cancel").status_code == 200
        run = wait_run(
            registry, run_id, lambda r: r["status"] in ("cancelled", "failed", "succeeded"), worker
        )
        assert run["status"] == "cancelled", run
        assert run["epochs_done"] < 100
        assert run["model_version"] is None
        epochs = registry.get(f"/v1/training-runs/{run_id}/epochs").json()
        assert [e["epoch"] for e in epochs] == list(range(1, run["epochs_done"] + 1))
    finally:
        worker.stop()


def test_a_killed_worker_leaves_a_failed_run_not_a_running_one(registry, dataset_version, tmp_path):
    worker = Worker(registry.env, tmp_path / "w")
    run_id = start_run(registry, dataset_version, epochs=200)
    try:
        running = wait_run(registry, run_id, lambda r: r["epochs_done"] >= 1, worker)
        assert running["status"] == "running" and running["worker"]
        worker.kill()
        run = wait_run(
            registry, run_id, lambda r: r["status"] != "running", worker, timeout=HEARTBEAT_TIMEOUT + 60
        )
        assert run["status"] == "failed"
        assert "heartbeat" in run["error"], run["error"]
        assert run["finished_at"] is not None
    finally:
        worker.stop()


def test_a_run_past_its_time_limit_is_stopped_and_failed(registry, dataset_version, tmp_path):
    worker = Worker(registry.env, tmp_path / "w")
    try:
        resp = registry.post(
            "/v1/training-runs",
            json={
                "dataset": "kill-bench",
                "dataset_version": dataset_version,
                "model_name": "kill-bench",
                "architecture": "yolov8n.yaml",
                "epochs": 1000,
                "imgsz": 96,
                "batch": 8,
                "patience": 0,
                "time_limit_seconds": 60,
            },
        )
        assert resp.status_code == 201, resp.text
        run_id = resp.json()["id"]
        run = wait_run(
            registry, run_id, lambda r: r["status"] not in ("queued", "running"), worker, timeout=240
        )
        assert run["status"] == "failed"
        assert "time limit" in run["error"], run["error"]
        assert 0 < run["epochs_done"] < 1000
        # The worker lives on and takes the next run.
        assert worker.proc.poll() is None
    finally:
        worker.stop()


def test_an_uploaded_checkpoint_is_converted_by_the_worker_and_registered(
    registry, dataset_version, tmp_path
):
    """The registry stores the .pt untouched; the worker opens it in its sandboxed child, exports ONNX,
    evaluates it on the dataset version and registers it; the first version of a model is staged."""
    from tests.support.yolo_models import detect_model, pt_for

    pt = pt_for(detect_model())
    assert registry.post("/v1/models", json={"name": "from-pt", "task": "detect"}).status_code == 201
    worker = Worker(registry.env, tmp_path / "w")
    try:
        with pt.open("rb") as fh:
            resp = registry.post(
                "/v1/models/from-pt/versions/from-pt",
                files={"file": ("notebook.pt", fh)},
                data={"imgsz": "160", "dataset": "kill-bench", "dataset_version": str(dataset_version)},
            )
        assert resp.status_code == 201, resp.text
        run = resp.json()
        assert (run["kind"], run["status"]) == ("convert", "queued")
        run = wait_run(registry, run["id"], lambda r: r["status"] not in ("queued", "running"), worker)
        assert run["status"] == "succeeded", run
        version = registry.get(f"/v1/models/from-pt/versions/{run['model_version']}").json()
        assert version["training_run_id"] == run["id"]
        assert version["params"]["source"] == "pt-upload"
        assert version["imgsz"] == [160, 160]
        assert set(version["class_names"].values()) == {"wrench", "screwdriver", "tape"}
        assert run["evaluation"]["challenger"]["metrics"]["mAP50"] > 0.5  # the test detector is good
        assert run["staged"] and registry.get("/v1/models/from-pt").json()["aliases"]["staging"] == 1
        # The weights kept are the worker's rebuild from the sandbox's clean checkpoint, and fine-tuning
        # starts from them, never from the uploaded pickle.
        assert run["artifacts"]["best.pt"] == f"runs/{run['id']}/best.pt"
        assert run["source_key"] != run["artifacts"]["best.pt"]
        worker.stop()
        resp = registry.post(
            "/v1/training-runs",
            json={
                "dataset": "kill-bench",
                "dataset_version": dataset_version,
                "model_name": "from-pt",
                "base_model": "from-pt",
                "base_version": run["model_version"],
                "epochs": 1,
            },
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["base_weights_key"] == run["artifacts"]["best.pt"]
        assert registry.post(f"/v1/training-runs/{resp.json()['id']}/cancel").status_code == 200
    finally:
        worker.stop()


def test_a_segment_run_trains_evaluates_and_registers_a_segment_model(registry, tmp_path):
    """A segment dataset version trains through the worker as a detect one does (epoch reports, heartbeats,
    lineage); the exported ONNX passes the registry's segment checks and the evaluation on the test split
    has the mask figures, pixel IoU and Dice."""
    from tests.support.segment_data import SEGMENT_CLASSES, write_segment_splits

    body = {"name": "cracks", "task": "segment", "class_names": SEGMENT_CLASSES}
    assert registry.post("/v1/datasets", json=body).status_code == 201
    root = tmp_path / "plates"
    write_segment_splits(root, {"train": 24}, seed=7, size=(160, 120))  # the registry splits by hash
    archive = tmp_path / "plates.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(root).as_posix())
    with archive.open("rb") as fh:
        resp = registry.post(
            "/v1/datasets/cracks/imports", files={"file": ("plates.zip", fh)}, data={"format": "yolo"}
        )
    assert resp.status_code == 200, resp.text
    dataset_version = registry.post("/v1/datasets/cracks/versions", json={}).json()
    assert dataset_version["split_counts"].get("test"), dataset_version  # evaluated on the test split
    resp = registry.post(
        "/v1/training-runs",
        json={
            "dataset": "cracks",
            "dataset_version": dataset_version["version"],
            "model_name": "cracks",
            "architecture": "yolov8n-seg.yaml",
            "epochs": 2,
            "imgsz": 64,
            "batch": 8,
            "patience": 0,
        },
    )
    assert resp.status_code == 201, resp.text
    worker = Worker(registry.env, tmp_path / "w")
    try:
        run = wait_run(
            registry, resp.json()["id"], lambda r: r["status"] not in ("queued", "running"), worker
        )
    finally:
        worker.stop()
    assert run["status"] == "succeeded", f"{run}\n{worker.output()}"
    assert run["selection_metric"] == "mask_mAP50-95"
    epochs = registry.get(f"/v1/training-runs/{run['id']}/epochs").json()
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert "seg_loss" in epochs[-1]["losses"] and "mask_mAP50-95" in epochs[-1]["metrics"]
    challenger = run["evaluation"]["challenger"]
    assert challenger["split"] == "test" and challenger["images"] == dataset_version["split_counts"]["test"]
    for name in ("mask_mAP50", "mask_mAP50-95", "box_mAP50", "box_mAP50-95", "pixel_iou", "dice"):
        assert 0.0 <= challenger["metrics"][name] <= 1.0, challenger["metrics"]
    assert {"mask_pr_curve.png", "test_samples.png", "best.pt"} <= set(run["artifacts"])
    version = registry.get(f"/v1/models/cracks/versions/{run['model_version']}").json()
    assert version["task"] == "segment" and version["imgsz"] == [64, 64]
    assert version["class_names"] == {"0": "crack", "1": "spot"}
    assert version["training_run_id"] == run["id"]
    assert version["dataset_version_id"] == run["dataset_version_id"]
    assert run["staged"]  # the model's first version
