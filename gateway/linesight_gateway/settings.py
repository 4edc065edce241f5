"""Gateway settings, read once at start."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from linesight_core.settings import CoreSettings, DatabaseSettings, S3Settings


class GatewaySettings(CoreSettings, DatabaseSettings, S3Settings):
    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = 8000

    # The first admin key. Changing it revokes the previous bootstrap key at the next start.
    admin_api_key: SecretStr = SecretStr("")
    # Health of other services is asked with this timeout, so one slow service cannot stall the page.
    status_timeout_seconds: float = 3.0
    # Authenticated keys are remembered this long per replica (0: ask the database every time). A key
    # revoked on another replica keeps working here for at most this long.
    api_key_cache_seconds: float = 10.0
    # An inspection waits this long for the model's answer; past it the photo is kept as `pending`.
    inference_timeout_seconds: float = 5.0
    # How often pending inspections are retried, and how many per round.
    reprocess_interval_seconds: float = 5.0
    reprocess_batch_size: int = 16
    # Feedback marked "use for training" goes to the station's registry dataset this often, this many
    # per round (domain/dataset_sync.py); a failed push is retried with back-off.
    dataset_sync_interval_seconds: float = 5.0
    dataset_sync_batch_size: int = 32
    # A label read waits this long for the OCR service (LINESIGHT_OCR_URL); past it the upload is refused
    # with 504 and nothing is stored.
    ocr_timeout_seconds: float = 30.0
    # A label read whose every code the OCR service read with at least this confidence, and which it did
    # not flag itself, is approved at once; the others wait in the review queue.
    label_auto_approve_threshold: float = Field(0.90, ge=0.0, le=1.0)
    # Training runs started in any hour: per station (by its training policy) and in all (policy and
    # engineers together). A policy run past the limit waits for the next free slot (domain/run_limits.py).
    training_runs_per_station_per_hour: int = Field(3, ge=0)
    training_runs_per_hour: int = Field(12, ge=0)
