"""Training worker settings, read once at start."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

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
    # How long a new pool process may take to start (it imports torch and Ultralytics first).
    worker_start_timeout_seconds: float = Field(default=120.0, ge=4)
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

    # Where training runs: "auto" takes the first CUDA GPU when torch sees one, else the CPU; or "cpu",
    # or a CUDA index such as "0".
    training_device: str = "auto"
    # Dataloader processes per run. 0 inside Celery's prefork pool, whose children may not fork.
    dataloader_workers: int = Field(default=0, ge=0)
    # How often a running run tells the registry it is alive (the registry's timeout must be longer).
    heartbeat_interval_seconds: float = Field(default=10.0, gt=0)
    # Limits of the child process that opens an uploaded .pt (a pickle) to convert it.
    convert_memory_bytes: int = Field(
        default=8 * 2**30, ge=256 * 2**20
    )  # address space: torch alone takes ~3 GiB
    convert_cpu_seconds: int = Field(default=600, ge=10)
    convert_wall_seconds: int = Field(default=900, ge=10)
    # Where uploaded .pt files are opened: "local", a sandboxed child of the worker (namespaces and the
    # `nobody` user where the worker runs as root, see sandbox.py); "service", the separate converter
    # service (compose), reached through the spool folder both mount.
    converter: Literal["local", "service"] = "local"
    converter_spool_dir: Path | None = None
    # Keep each run's folder (dataset, weights, plots) after it finished, for debugging.
    keep_run_files: bool = False
    # Level of Ultralytics' own log in the worker; INFO brings back its progress bars (slower, noisier).
    ultralytics_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
