"""Per-test isolation on the shared test servers: a fresh database and bucket prefix for each test."""

import uuid

import psycopg
import pytest
from sqlalchemy.engine import make_url


@pytest.fixture
def fresh_service_env(postgres_url, redis_url, s3_env):
    """LINESIGHT_* settings pointing at a new, empty database and new buckets on the test servers."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        "LINESIGHT_DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
        "LINESIGHT_REDIS_URL": redis_url,
        "LINESIGHT_S3_BUCKET_PREFIX": f"ls-{uuid.uuid4().hex[:10]}",
        **s3_env,
    }
    yield env
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
