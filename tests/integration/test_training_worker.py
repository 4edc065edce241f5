"""The training worker as it runs in production: `python -m linesight_training` on a real Redis broker
and S3 store, its health server beside the Celery worker, a task sent through the broker and answered
by a pool process, task metrics added up across processes, and a clean stop on SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from linesight_training.main import create_celery_app
from linesight_training.settings import TrainingSettings
from linesight_training.tasks import PING
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


class Worker:
    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.port = free_port()
        self.node = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.env = {
            **env,
            "LINESIGHT_HOST": "127.0.0.1",
            "LINESIGHT_PORT": str(self.port),
            "LINESIGHT_LOG_FORMAT": "console",
            "LINESIGHT_WORKER_HOSTNAME": self.node,
            "LINESIGHT_METRICS_DIR": str(tmp_path / "metrics"),
            "LINESIGHT_YOLO_CONFIG_DIR": str(tmp_path / "ultralytics"),
            "LINESIGHT_TRAINING_WORK_DIR": str(tmp_path / "work"),
        }
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "worker.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "linesight_training"],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text()

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10)

    def wait_for(self, path: str, status: int, timeout: float = 120) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.output()
            try:
                resp = self.get(path)
                if resp.status_code == status:
                    return resp
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{path} never answered {status}:\n{self.output()}"
            time.sleep(0.3)

    def wait_until_consuming(self, timeout: float = 120) -> None:
        """Celery installs its SIGTERM handler (warm shutdown) when the consumer starts."""
        deadline = time.monotonic() + timeout
        while "linesight_training_worker_up 1.0" not in self.get("/metrics").text:
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, f"the worker never started consuming:\n{self.output()}"
            time.sleep(0.3)

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


@pytest.fixture
def worker_env(redis_url, s3_env):
    return {
        **s3_env,
        "LINESIGHT_REDIS_URL": redis_url,
        "LINESIGHT_S3_BUCKET_PREFIX": f"ls-{uuid.uuid4().hex[:10]}",
    }


def test_ping_round_trip_through_the_broker_and_task_metrics(worker_env, tmp_path):
    worker = Worker(worker_env, tmp_path)
    try:
        ready = worker.wait_for("/ready", 200).json()
        assert set(ready["checks"]) == {"broker", "object_store"}
        assert worker.get("/health").json()["service"] == "training-worker"

        client = create_celery_app(TrainingSettings(**{"redis_url": worker_env["LINESIGHT_REDIS_URL"]}))
        answer = client.send_task(PING).get(timeout=120)
        client.close()
        assert answer["hostname"] == worker.node
        assert answer["pid"] != worker.proc.pid  # answered by a pool process, not the main one
        assert answer["versions"]["torch"] and answer["versions"]["ultralytics"]

        metrics = worker.get("/metrics").text
        assert f'linesight_training_tasks_total{{state="success",task="{PING}"}} 1.0' in metrics
        assert f'linesight_training_tasks_total{{state="started",task="{PING}"}} 1.0' in metrics
        assert f'linesight_training_task_duration_seconds_count{{task="{PING}"}} 1.0' in metrics
        assert "linesight_training_worker_up 1.0" in metrics

        # Ultralytics was set up offline, in the folders the settings name
        ultra = json.loads((tmp_path / "ultralytics" / "Ultralytics" / "settings.json").read_text())
        assert ultra["sync"] is False
        assert ultra["runs_dir"] == str(tmp_path / "work" / "runs")
    finally:
        status = worker.stop()
    assert status == 0, worker.output()
    # nothing listens any more: the pool processes did not keep the health server's socket open
    with pytest.raises(httpx.ConnectError):
        worker.get("/health")


def test_not_ready_names_the_broker_when_it_is_down(worker_env, tmp_path):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    worker = Worker({**worker_env, "LINESIGHT_CELERY_BROKER_URL": dead}, tmp_path)
    try:
        body = worker.wait_for("/ready", 503).json()
        assert body["failed"] == ["broker"]
        assert body["checks"]["object_store"]["ok"]
        assert worker.get("/health").status_code == 200
    finally:
        status = worker.stop()
    assert status == 0, worker.output()


def test_stale_metric_files_are_removed_at_start(worker_env, tmp_path):
    stale = tmp_path / "metrics" / "counter_999999.db"
    stale.parent.mkdir()
    stale.write_bytes(b"left by a previous run")
    keep = tmp_path / "metrics" / "notes.txt"
    keep.write_text("not ours")
    worker = Worker(worker_env, tmp_path)
    try:
        worker.wait_for("/ready", 200)
        worker.wait_until_consuming()
        assert not stale.exists()
        assert keep.exists()
    finally:
        assert worker.stop() == 0, worker.output()
