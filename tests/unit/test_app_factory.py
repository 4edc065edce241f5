"""Every service built with the app factory answers /health, /ready and /metrics the same way,
speaks problem+json, and carries request ids."""

import re

from fastapi import Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel

from linesight_core.app import create_app
from linesight_core.auth import service_token_dependency
from linesight_core.errors import Problem
from linesight_core.settings import CoreSettings


class Body(BaseModel):
    count: int


def build(state: dict) -> TestClient:
    def database() -> None:
        if not state["db_up"]:
            raise ConnectionError("connection refused")

    async def cache() -> bool:
        return state["cache_up"]

    settings = CoreSettings(service_name="unit-svc", log_format="console", service_token="s3cret")
    app = create_app(settings, title="unit", readiness={"database": database, "cache": cache})

    @app.get("/v1/things/{thing_id}", dependencies=[Depends(service_token_dependency("s3cret"))])
    def get_thing(thing_id: int) -> dict:
        if thing_id == 404:
            raise Problem(404, f"There is no thing {thing_id}.")
        if thing_id == 500:
            raise RuntimeError("boom with secret internals")
        return {"id": thing_id}

    @app.post("/v1/things")
    def post_thing(body: Body) -> dict:
        return {"count": body.count}

    return TestClient(app)


def test_health_ready_and_metrics():
    state = {"db_up": True, "cache_up": True}
    with build(state) as client:
        assert client.get("/health").json()["status"] == "ok"
        ready = client.get("/ready")
        assert ready.status_code == 200
        assert set(ready.json()["checks"]) == {"database", "cache"}

        state["db_up"] = False
        state["cache_up"] = False
        down = client.get("/ready")
        assert down.status_code == 503
        assert down.headers["content-type"].startswith("application/problem+json")
        body = down.json()
        assert body["failed"] == ["cache", "database"]
        # Anyone sees which dependency failed; only services (the service token) see why.
        assert body["checks"]["database"] == {"ok": False} and "connection refused" not in down.text
        inside = client.get("/ready", headers={"Authorization": "Bearer s3cret"}).json()
        assert "connection refused" in inside["checks"]["database"]["error"]
        wrong = client.get("/ready", headers={"Authorization": "Bearer guess"}).json()
        assert "connection refused" not in str(wrong)
        assert client.get("/health").status_code == 200

        state["db_up"] = True
        state["cache_up"] = True
        assert client.get("/ready").status_code == 200

        metrics = client.get("/metrics").text
        assert 'linesight_http_requests_total{method="GET",route="/ready",status="503"}' in metrics
        assert 'linesight_build_info{service="unit-svc"' in metrics


def test_route_template_not_raw_path_in_metrics():
    with build({"db_up": True, "cache_up": True}) as client:
        headers = {"Authorization": "Bearer s3cret"}
        for i in (1, 2, 3):
            assert client.get(f"/v1/things/{i}", headers=headers).status_code == 200
        metrics = client.get("/metrics").text
        assert 'route="/v1/things/{thing_id}"' in metrics
        assert 'route="/v1/things/1"' not in metrics


def test_request_id_is_kept_or_made():
    with build({"db_up": True, "cache_up": True}) as client:
        given = client.get("/health", headers={"X-Request-ID": "abc-123"})
        assert given.headers["x-request-id"] == "abc-123"
        made = client.get("/health")
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
        hostile = client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
        assert hostile.headers["x-request-id"] != "bad id\nwith newline"


def test_errors_are_problem_json_without_internals():
    with build({"db_up": True, "cache_up": True}) as client:
        client_ = TestClient(client.app, raise_server_exceptions=False)
        headers = {"Authorization": "Bearer s3cret", "X-Request-ID": "req-1"}
        missing = client_.get("/v1/things/404", headers=headers)
        assert missing.status_code == 404
        assert missing.json()["detail"] == "There is no thing 404."
        assert missing.json()["request_id"] == "req-1"

        crash = client_.get("/v1/things/500", headers=headers)
        assert crash.status_code == 500
        assert "secret internals" not in crash.text
        assert crash.headers["content-type"].startswith("application/problem+json")

        invalid = client_.post("/v1/things", json={"count": "many"}, headers=headers)
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["loc"] == ["body", "count"]

        unknown = client_.get("/nowhere")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"].startswith("application/problem+json")


def test_service_token_is_required_on_internal_api():
    with build({"db_up": True, "cache_up": True}) as client:
        assert client.get("/v1/things/1").status_code == 401
        assert client.get("/v1/things/1", headers={"Authorization": "Bearer nope"}).status_code == 403
        assert client.get("/v1/things/1", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_internal_api_refuses_a_missing_token_before_the_body_and_limits_the_body():
    with build({"db_up": True, "cache_up": True}) as client:
        # over the JSON limit and without the token: refused for the token, the body is never looked at
        big = b'{"count": 1, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        anonymous = client.post("/v1/things", content=big, headers={"Content-Type": "application/json"})
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        wrong = client.post("/v1/things", content=big, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403

        headers = {"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
        declared = client.post("/v1/things", content=big, headers=headers)
        assert declared.status_code == 413
        assert "1 MiB" in declared.json()["detail"] and "1048576 bytes" in declared.json()["detail"]

        def chunks():  # no Content-Length: the limit is counted as the body arrives
            yield b'{"count": 1, "pad": "'
            for _ in range(40):
                yield b"x" * 64 * 1024
            yield b'"}'

        streamed = client.post("/v1/things", content=chunks(), headers=headers)
        assert streamed.status_code == 413
        assert streamed.headers["content-type"].startswith("application/problem+json")
        assert client.post("/v1/things", json={"count": 3}, headers=headers).json() == {"count": 3}
        # answered before routing, still counted under the route (bounded labels, useful dashboards)
        metrics = client.get("/metrics").text
        assert 'linesight_http_requests_total{method="POST",route="/v1/things",status="401"}' in metrics
        assert 'linesight_http_requests_total{method="POST",route="/v1/things",status="413"}' in metrics
