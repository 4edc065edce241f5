"""Registry settings, read once at start."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from linesight_core.settings import CoreSettings, DatabaseSettings, RedisSettings, S3Settings


class RegistrySettings(CoreSettings, DatabaseSettings, S3Settings, RedisSettings):
    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "registry"
    port: int = 8003
    # Largest ONNX artifact accepted on upload.
    max_artifact_bytes: int = 512 * 1024 * 1024
