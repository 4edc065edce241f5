"""Training worker settings, read once at start."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from linesight_core.settings import CoreSettings, RedisSettings, S3Settings


class TrainingSettings(CoreSettings, RedisSettings, S3Settings):
    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "training-worker"
    port: int = 8004  # the health and metrics server; the worker itself listens on no port

    # Empty: the broker is LINESIGHT_REDIS_URL. Task results always go to LINESIGHT_REDIS_URL.
    celery_broker_url: str = ""
    # Tasks are acknowledged when they finish, so a task that runs longer than this is handed to another
    # worker by Redis while the first still runs. It must exceed the longest training run.
    celery_visibility_timeout_seconds: int = Field(default=12 * 3600, ge=60)
    # Results are read by whoever enqueued the task, soon after; a day is plenty.
    celery_result_expires_seconds: int = Field(default=24 * 3600, ge=60)
    worker_concurrency: int = Field(default=1, ge=1)
    # Celery node name; %h is the host name. Unique per worker on one broker.
    worker_hostname: str = "training@%h"

    # Prometheus multiprocess files of the worker and its pool processes. Empty: a fresh temporary
    # directory. Its *.db files are removed at start, so counters do not carry over from a previous run.
    metrics_dir: Path | None = None
    # Ultralytics keeps its settings file here; YOLO_CONFIG_DIR, Ultralytics' own name, is read too.
    yolo_config_dir: Path = Field(
        default=Path(tempfile.gettempdir()) / "linesight-training" / "ultralytics-config",
        validation_alias=AliasChoices("LINESIGHT_YOLO_CONFIG_DIR", "YOLO_CONFIG_DIR"),
    )
    # Datasets, weights and training runs of Ultralytics go under this folder.
    training_work_dir: Path = Path(tempfile.gettempdir()) / "linesight-training" / "work"

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url
