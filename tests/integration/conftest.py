"""Per-test isolation on the shared test servers: a fresh database and bucket prefix for each test."""

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from linesight_training.offline import configure_ultralytics
from tests.support.servers import serve


@contextmanager
def service_database(postgres_url, redis_url, s3_env, bucket_prefix: str = "ls") -> Iterator[dict[str, str]]:
    """LINESIGHT_* settings pointing at a new, empty database and new buckets on the test servers; the
    database is dropped on the way out."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            "LINESIGHT_DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
            "LINESIGHT_REDIS_URL": redis_url,
            "LINESIGHT_S3_BUCKET_PREFIX": f"{bucket_prefix}-{uuid.uuid4().hex[:10]}",
            **s3_env,
        }
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_service_env(postgres_url, redis_url, s3_env):
    """LINESIGHT_* settings pointing at a new, empty database and new buckets on the test servers."""
    with service_database(postgres_url, redis_url, s3_env) as env:
        yield env


ADMIN_KEY = "admin-key-for-integration-tests-0123456789"
SERVICE_TOKEN = "svc-token-integration-tests"


@pytest.fixture
def gateway_stack(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    with serve(create_registry(RegistrySettings())) as registry_url:
        monkeypatch.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        with TestClient(create_gateway(GatewaySettings())) as gw:
            keys = {}
            for role in ("viewer", "operator", "engineer"):
                resp = gw.post(
                    "/api/v1/api-keys",
                    json={"name": f"{role}-key", "role": role},
                    headers={"X-API-Key": ADMIN_KEY},
                )
                keys[role] = {"X-API-Key": resp.json()["key"]}
            gw.keys = keys
            yield gw


@pytest.fixture(scope="module")
def ultralytics_dirs(tmp_path_factory):
    """Ultralytics configured offline in folders of this module, as the worker does at start. Ultralytics
    reads its environment once per process: when an earlier test module of the session imported it, its
    config folder is kept and the weights_only loading configure_ultralytics asks for is switched on in the
    two modules that read it at import, for this module's tests only."""
    base = tmp_path_factory.mktemp("ultralytics")
    config = base / "config"
    imported_before = "ultralytics" in sys.modules
    if imported_before and os.environ.get("YOLO_CONFIG_DIR"):
        config = Path(os.environ["YOLO_CONFIG_DIR"])
    configure_ultralytics(config, base / "work")
    if imported_before:
        # check_font remembers its answers (lru_cache): an earlier test's miss would hide the fonts
        # configure_ultralytics just installed. The worker configures before anything asks.
        from ultralytics.utils import checks

        inner = getattr(checks.check_font, "__wrapped__", checks.check_font)
        if hasattr(inner, "cache_clear"):
            inner.cache_clear()
    with pytest.MonkeyPatch.context() as patch:
        if imported_before:
            import ultralytics.nn.tasks
            import ultralytics.utils

            patch.setattr(ultralytics.utils, "SAFE_LOAD", True)
            patch.setattr(ultralytics.nn.tasks, "SAFE_LOAD", True)
        yield {"config": config, "work": base / "work"}
