"""Settings base: every service reads its environment once, at start, into one of these."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CoreSettings(BaseSettings):
    """Settings shared by every service. Services subclass it and add their own fields."""

    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "linesight"
    host: str = "0.0.0.0"
    port: int = 8000
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")

    # Service-to-service calls carry this bearer token; internal /v1 APIs refuse calls without it.
    service_token: SecretStr = SecretStr("")

    http_timeout_seconds: float = 10.0
    http_retries: int = 2

    registry_url: str = "http://registry:8003"
    inference_url: str = "http://inference:8001"
    ocr_url: str = "http://ocr-service:8002"
    gateway_url: str = "http://gateway:8000"
    training_worker_url: str = "http://training-worker:8004"

    image_max_bytes: int = 20 * 1024 * 1024
    image_max_pixels: int = 40_000_000

    # Largest request body of a route without an upload (JSON); upload routes have their own limits.
    # Past it the request is answered 413 while the body arrives (linesight_core.body_limit).
    max_json_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # uvicorn's guards against floods and slow clients: connections plus requests in progress past
    # which new ones get 503, how long an idle keep-alive connection is kept, and the largest request
    # line plus headers (enforced by the h11 parser; httptools, the default when installed, has its own
    # fixed limit of the same order).
    http_limit_concurrency: int = Field(default=256, ge=1)
    http_keep_alive_seconds: int = Field(default=5, ge=1)
    http_max_header_bytes: int = Field(default=32 * 1024, ge=4096)


class DatabaseSettings(BaseSettings):
    """Mixin for services that own a Postgres schema."""

    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    database_url: str = "postgresql+psycopg://linesight@postgres:5432/linesight"
    database_pool_size: int = 5
    database_connect_timeout_seconds: int = 3


class RedisSettings(BaseSettings):
    """Mixin for services that use Redis (events, cache, Celery broker)."""

    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    redis_url: str = "redis://redis:6379/0"


class S3Settings(BaseSettings):
    """Mixin for services that keep bytes in the S3 store."""

    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    s3_endpoint: str = "minio:9000"
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    s3_bucket_prefix: str = "linesight"
    # host:port used in presigned URLs handed to clients outside the internal network (optional)
    s3_public_endpoint: str = ""

    def bucket(self, purpose: str) -> str:
        """Bucket name for a purpose (`images`, `models`, `datasets`)."""
        return f"{self.s3_bucket_prefix}-{purpose}"
