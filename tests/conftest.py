"""Markers by folder (tests/unit -> unit, tests/integration -> integration, tests/e2e -> e2e) and the
session-wide infrastructure of the integration tests: a private Postgres cluster, redis-server and S3 store
(SeaweedFS), each on free ports picked at random, with all data in one temporary folder, started the first
time a test asks for it and stopped when the session ends."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from linesight_devstack import PostgresServer, RedisServer, S3Server

TESTS = Path(__file__).parent

# Ultralytics reads these once, when a test first imports it: one offline config folder for the whole
# session, whichever test imports it first (the worker's own processes get theirs from their settings).
os.environ.setdefault(
    "YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / f"linesight-tests-ultralytics-{os.getuid()}")
)
os.environ["YOLO_OFFLINE"] = "1"
FOLDER_MARKERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.relative_to(TESTS).parts[0]
        except ValueError:
            continue
        if folder in FOLDER_MARKERS:
            item.add_marker(getattr(pytest.mark, folder))
        # With pytest-xdist (`make test` runs `-n 2 --dist loadgroup`): a module's tests stay in one worker
        # (its module fixtures are made once), and so do all e2e tests (one local stack for them all).
        item.add_marker(
            pytest.mark.xdist_group("e2e" if folder == "e2e" else str(item.path.relative_to(TESTS)))
        )


@pytest.fixture(autouse=True)
def _keep_the_real_main_module() -> Iterator[None]:
    """Streamlit's AppTest installs the page it ran as `__main__` for the whole process and leaves it there;
    a process started later with multiprocessing's spawn (the OCR service's label readers, run in-process
    by a test) would run that page again as its main module and die. Each test gets the real one back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


def shared_tmp_dir(prefix: str) -> Path:
    """A new temporary folder that other users may enter (not list): as root, Postgres runs as the
    `postgres` user and must reach its cluster inside it (pytest's own tmp folders are root-only)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


@pytest.fixture(scope="session")
def infra_dir() -> Iterator[Path]:
    path = shared_tmp_dir("linesight-test-infra-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(infra_dir: Path) -> Iterator[PostgresServer]:
    with PostgresServer(infra_dir / "postgres", durable=False) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL (postgresql+psycopg://linesight@127.0.0.1:<port>/linesight); trust auth, superuser."""
    return postgres_server.url


@pytest.fixture(scope="session")
def redis_server(infra_dir: Path) -> Iterator[RedisServer]:
    with RedisServer(infra_dir / "redis") as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture(scope="session")
def s3_server(infra_dir: Path) -> Iterator[S3Server]:
    with S3Server(infra_dir / "s3") as server:
        yield server


@pytest.fixture(scope="session")
def s3_endpoint(s3_server: S3Server) -> str:
    """host:port, as LINESIGHT_S3_ENDPOINT and the minio SDK take it."""
    return s3_server.endpoint


@pytest.fixture(scope="session")
def s3_credentials(s3_server: S3Server) -> tuple[str, str]:
    """(access key, secret key); the store refuses requests not signed with them."""
    return s3_server.access_key, s3_server.secret_key


@pytest.fixture(scope="session")
def s3_env(s3_server: S3Server) -> dict[str, str]:
    """LINESIGHT_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _SECURE, _REGION for the test store."""
    return s3_server.env


@pytest.fixture(scope="session")
def s3_settings(s3_server: S3Server) -> dict[str, object]:
    """The same as keyword arguments of linesight_core's S3Settings (s3_endpoint=..., ...)."""
    return s3_server.settings
