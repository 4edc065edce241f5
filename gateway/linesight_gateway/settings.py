"""Gateway settings, read once at start."""

from __future__ import annotations

from pydantic import SecretStr
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
