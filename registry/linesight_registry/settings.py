"""Registry settings, read once at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from linesight_core.model_input import DEFAULT_MAX_IMGSZ
from linesight_core.settings import CoreSettings, DatabaseSettings, RedisSettings, S3Settings


class RegistrySettings(CoreSettings, DatabaseSettings, S3Settings, RedisSettings):
    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "registry"
    port: int = 8003
    # Largest ONNX artifact accepted on upload.
    max_artifact_bytes: int = 512 * 1024 * 1024
    # Largest image size (imgsz, pixels a side) an uploaded model may declare: inference allocates inputs
    # of this size, so a model claiming 30000x30000 would take gigabytes before its first request.
    max_model_imgsz: int = Field(default=DEFAULT_MAX_IMGSZ, ge=32, le=16384)

    # Training runs. Empty broker URL: the broker is LINESIGHT_REDIS_URL, as for the training worker.
    celery_broker_url: str = ""
    # A running run whose worker has not called in for this long is failed by the sweeper.
    training_heartbeat_timeout_seconds: float = Field(default=120, gt=0)
    # How often the sweeper looks for runs whose worker vanished or that ran out of time.
    sweeper_interval_seconds: float = Field(default=15, gt=0)
    # Past its time limit the worker's Celery limit should have ended a run; this much later, the
    # sweeper fails it.
    training_time_limit_grace_seconds: int = Field(default=300, ge=0)
    # A run redelivered after this many attempts (worker crashes) is failed instead of started again.
    training_max_attempts: int = Field(default=3, ge=1)
    # Largest PyTorch checkpoint accepted for conversion.
    max_pt_bytes: int = Field(default=512 * 1024 * 1024, ge=1)

    # Dataset imports (zip). An archive over any of these is refused before anything is stored;
    # images inside are checked against LINESIGHT_IMAGE_MAX_BYTES / LINESIGHT_IMAGE_MAX_PIXELS, like uploads.
    # Largest archive upload.
    max_archive_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1)
    # Most entries (files and folders) in one archive.
    max_archive_members: int = Field(default=20_000, ge=1)
    # Total size of the archive once unpacked: declared sizes are checked first, and the bytes actually
    # read are counted too, so a zip bomb with lying headers stops at this many bytes.
    max_archive_uncompressed_bytes: int = Field(default=8 * 1024 * 1024 * 1024, ge=1)
    # Largest Label Studio JSON export inside an import archive, once unpacked. It is parsed as a stream
    # (one task at a time), with its nesting depth bounded.
    max_labelstudio_json_bytes: int = Field(default=256 * 1024 * 1024, ge=1)

    @property
    def broker_url(self) -> str:
        return self.celery_broker_url or self.redis_url
