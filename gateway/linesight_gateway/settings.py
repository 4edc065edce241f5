"""Gateway settings, read once at start."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from linesight_core.contracts.registry import NAME_PATTERN
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
    # A sign-in (POST /api/v1/auth/login) gives a session token valid this long, unless signed out first.
    session_hours: float = Field(12.0, gt=0)
    # Failed sign-ins within the window, per username and per client address, before further attempts
    # are refused with 429 until the oldest failure leaves the window (domain/login_throttle.py). Every
    # sign-in through the UI comes from the UI's address, so the per-address limit is kept high: it stops
    # a script guessing many usernames, while the per-username limit guards each person.
    login_max_failures_per_user: int = Field(5, ge=0)
    login_max_failures_per_address: int = Field(100, ge=0)
    login_failure_window_seconds: float = Field(900.0, gt=0)
    # An inspection waits this long for the model's answer; past it the photo is kept as `pending`.
    inference_timeout_seconds: float = 5.0
    # How often pending inspections are retried, and how many per round.
    reprocess_interval_seconds: float = 5.0
    reprocess_batch_size: int = 16
    # Feedback marked "use for training" goes to the station's registry dataset this often, this many
    # per round (domain/dataset_sync.py); a failed push is retried with back-off.
    dataset_sync_interval_seconds: float = 5.0
    dataset_sync_batch_size: int = 32
    # The gauges that need the database (pending inspections, the label review queue, each station's last
    # inspection) are counted this often in the background, never per scrape (domain/queue_gauges.py).
    queue_gauges_interval_seconds: float = Field(15.0, gt=0)
    # A label read waits this long for the OCR service (LINESIGHT_OCR_URL); past it the upload is refused
    # with 504 and nothing is stored.
    ocr_timeout_seconds: float = 30.0
    # A label read whose every code the OCR service read with at least this confidence, and which it did
    # not flag itself, is approved at once; the others wait in the review queue.
    label_auto_approve_threshold: float = Field(0.90, ge=0.0, le=1.0)
    # Stations with `blur_people` blur every box this registry model (served by the inference service)
    # finds with this label and at least this confidence, before the photo is stored. Unset: no station
    # can blur people. If the detector cannot answer, the photo is refused (503), never stored unblurred.
    people_detector_model: str | None = Field(None, pattern=NAME_PATTERN)
    people_detector_alias: str = "production"
    people_detector_label: str = "person"
    people_detector_confidence: float = Field(0.25, gt=0.0, le=1.0)

    @field_validator("people_detector_model", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # compose passes an unset variable as "": that means no detector, not a model named ""
        return None if value == "" else value

    # Largest uploads the gateway passes on to the registry (the same settings, and defaults, as the
    # registry's): a body over its route's limit is refused with 413 while it arrives, before it is
    # spooled to the temp folder (api/upload_limits.py).
    max_artifact_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_pt_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    max_archive_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1)

    # Training runs started in any hour: per station (by its training policy) and in all (policy and
    # engineers together). A policy run past the limit waits for the next free slot (domain/run_limits.py).
    training_runs_per_station_per_hour: int = Field(3, ge=0)
    training_runs_per_hour: int = Field(12, ge=0)

    # Replays of verified inspections (domain/replay_runner.py): how often an idle runner looks for a
    # queued job, how long one replay request may wait (it queues behind live inspections on the
    # inference service), inspections replayed at a time, after how long without a heartbeat a running
    # job is taken over (its gateway was restarted), and the most inspections one replay takes.
    replay_poll_seconds: float = Field(2.0, gt=0)
    replay_timeout_seconds: float = Field(60.0, gt=0)
    replay_concurrency: int = Field(2, ge=1, le=32)
    replay_stale_seconds: float = Field(30.0, gt=0)
    replay_max_inspections: int = Field(5000, ge=1)
    # Verified inspections a version's replay must have replayed at each gated station before the
    # promotion gate lets production move to it, when the gate itself names no number.
    promotion_gate_min_verified: int = Field(30, ge=1)
    # A training run's version staged because of the gate is replayed by the gateway itself
    # (domain/held_replays.py): how often it looks for one, and the latest verified inspections it replays
    # at each judging station (at least the gate's minimum there).
    promotion_gate_replay_interval_seconds: float = Field(30.0, gt=0)
    promotion_gate_replay_last_n: int = Field(500, ge=1, le=5000)

    # Shadow mode (domain/shadow.py): a station's shadow version answers each live inspection after the
    # live answer was returned, `shadow_concurrency` at a time at replay priority on the inference service.
    # The photos waiting for it are held in memory, at most `shadow_queue_size` of them and
    # `shadow_queue_max_bytes` in all; past either a photo is dropped (and counted), never queued. One
    # shadow answer may wait `shadow_timeout_seconds` (it yields to live work there).
    shadow_concurrency: int = Field(2, ge=1, le=32)
    shadow_queue_size: int = Field(64, ge=1)
    shadow_queue_max_bytes: int = Field(64 * 1024 * 1024, ge=1)
    shadow_timeout_seconds: float = Field(30.0, gt=0)
