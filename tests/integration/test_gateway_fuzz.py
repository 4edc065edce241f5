"""Schemathesis against the gateway's OpenAPI, with a real database, S3 store and registry behind it:
whatever it sends, the gateway never answers 5xx (bad input is a 4xx that says what was wrong)."""

import os
import uuid

import psycopg
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from sqlalchemy.engine import make_url

from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.conftest import ADMIN_KEY, SERVICE_TOKEN
from tests.support.servers import free_port, serve

EXAMPLES = int(os.environ.get("LINESIGHT_FUZZ_EXAMPLES", "12"))


@pytest.fixture(scope="module")
def gateway_schema(postgres_url, redis_url, s3_env):
    name = f"fuzz_{uuid.uuid4().hex[:10]}"
    url = make_url(postgres_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {
        "LINESIGHT_DATABASE_URL": url.set(database=name).render_as_string(hide_password=False),
        "LINESIGHT_REDIS_URL": redis_url,
        "LINESIGHT_S3_BUCKET_PREFIX": f"fz-{uuid.uuid4().hex[:8]}",
        "LINESIGHT_SERVICE_TOKEN": SERVICE_TOKEN,
        "LINESIGHT_ADMIN_API_KEY": ADMIN_KEY,
        "LINESIGHT_LOG_FORMAT": "console",
        "LINESIGHT_LOG_LEVEL": "WARNING",
        "LINESIGHT_INFERENCE_URL": f"http://127.0.0.1:{free_port()}",  # down: inspections stay pending
        "LINESIGHT_HTTP_RETRIES": "0",
        **s3_env,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with serve(create_registry(RegistrySettings())) as registry_url:
            os.environ["LINESIGHT_REGISTRY_URL"] = registry_url
            app = create_gateway(GatewaySettings())
            with TestClient(app):  # runs the lifespan: migrations, buckets, clients
                yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_gateway_never_answers_5xx(gateway_schema):
    """Every operation, EXAMPLES generated requests each (schemathesis strategies driven by Hypothesis;
    the pytest plugin of schemathesis does not run under this pytest, so the loop is written out)."""
    failures: list[str] = []
    operations = 0
    for result in gateway_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            response = case.call(headers={"X-API-Key": ADMIN_KEY})
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                )

        run()
    assert operations >= 30, f"only {operations} operations in the OpenAPI document"
    assert not failures, "\n".join(sorted(set(failures))[:20])
