"""Every problem answer carries a stable `type` URI from the documented list, so clients branch on
`type` rather than on the prose of `detail`; the named errors render their status, type and detail."""

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from linesight_core.app import create_app
from linesight_core.clients.errors import raise_for_problem
from linesight_core.errors import (
    STATUS_TYPES,
    Conflict,
    NotFound,
    Problem,
    Unavailable,
    problem_type,
)
from linesight_core.images import PROBLEM_TYPE as IMAGE_TYPE
from linesight_core.settings import CoreSettings
from linesight_gateway.domain.gated_promotion import PROBLEM_TYPE as GATE_TYPE
from linesight_ocr.domain.fetch import PROBLEM_TYPE as URL_TYPE
from linesight_registry.domain.onnx_artifact import PROBLEM_TYPE as MODEL_TYPE
from linesight_registry.domain.safe_zip import PROBLEM_TYPE as ARCHIVE_TYPE

BASE = "https://linesight.dev/problems/"
ARCHITECTURE = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


class Body(BaseModel):
    count: int


@pytest.fixture(scope="module")
def client():
    settings = CoreSettings(service_name="unit-problems", log_format="console")
    app = create_app(settings, title="unit")

    @app.get("/station/{key}")
    def station(key: str) -> dict:
        raise NotFound("station", key)

    @app.get("/model/{name}")
    def model(name: str) -> dict:
        raise NotFound("model", name, by="name")

    @app.get("/run/{key}")
    def run(key: str) -> dict:
        raise NotFound("training run", key, by=None)

    @app.get("/conflict")
    def conflict() -> dict:
        raise Conflict("Station 'a' is not active; activate it to inspect there.")

    @app.get("/unavailable")
    def unavailable() -> dict:
        raise Unavailable("LINESIGHT_SERVICE_TOKEN is not set on this service.", headers={"Retry-After": "5"})

    @app.get("/plain/{status}")
    def plain(status: int) -> dict:
        raise Problem(status, "plain problem")

    @app.post("/things")
    def things(body: Body) -> dict:
        return {"count": body.count}

    @app.get("/boom")
    def boom() -> dict:
        raise RuntimeError("internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    ("path", "status", "slug", "detail"),
    [
        ("/station/42", 404, "not-found", "There is no station with id 42."),
        ("/model/a", 404, "not-found", "There is no model named 'a'."),
        ("/run/7", 404, "not-found", "There is no training run 7."),
        ("/conflict", 409, "conflict", "Station 'a' is not active; activate it to inspect there."),
        ("/unavailable", 503, "unavailable", "LINESIGHT_SERVICE_TOKEN is not set on this service."),
        ("/plain/413", 413, "too-large", "plain problem"),
        ("/plain/401", 401, "unauthorized", "plain problem"),
        ("/plain/403", 403, "forbidden", "plain problem"),
        ("/plain/502", 502, "upstream", "plain problem"),
    ],
)
def test_named_errors_render_status_type_and_detail(client, path, status, slug, detail):
    resp = client.get(path)
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["type"] == BASE + slug
    assert body["status"] == status
    assert body["detail"] == detail


def test_unavailable_keeps_its_headers(client):
    assert client.get("/unavailable").headers["retry-after"] == "5"


def test_framework_answers_carry_a_type_too(client):
    invalid = client.post("/things", json={"count": "many"})
    assert invalid.status_code == 422
    assert invalid.json()["type"] == BASE + "invalid-request"
    unknown = client.get("/no/such/route")
    assert unknown.status_code == 404
    assert unknown.json()["type"] == BASE + "not-found"
    wrong_method = client.delete("/things")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == BASE + "method-not-allowed"
    crashed = client.get("/boom")
    assert crashed.status_code == 500
    assert crashed.json()["type"] == BASE + "internal"


def test_a_passed_on_4xx_keeps_the_called_services_type_and_its_list_of_problems():
    archive = httpx.Response(422, json={"type": BASE + "invalid-archive", "detail": "zip bomb"})
    with pytest.raises(Problem) as caught:
        raise_for_problem("registry", archive)
    assert (caught.value.status, caught.value.type, caught.value.detail) == (
        422,
        BASE + "invalid-archive",
        "zip bomb",
    )
    listed = httpx.Response(
        422,
        json={
            "type": BASE + "invalid-archive",
            "detail": "2 problems",
            "errors": ["a", "b"],
            "error_count": 2,
        },
    )
    with pytest.raises(Problem) as caught:
        raise_for_problem("registry", listed)
    assert caught.value.extra == {"upstream_service": "registry", "errors": ["a", "b"], "error_count": 2}
    failed = httpx.Response(500, json={"type": BASE + "internal", "detail": "boom", "errors": ["x"]})
    with pytest.raises(Problem) as caught:
        raise_for_problem("registry", failed)
    assert (caught.value.status, caught.value.type) == (502, BASE + "upstream")
    assert "errors" not in caught.value.extra


def test_architecture_lists_every_type_uri():
    errors = ARCHITECTURE.read_text().split("## Errors", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"https://linesight\.dev/problems/[a-z-]+", errors))
    code = {problem_type(slug) for slug in STATUS_TYPES.values()}
    code |= {IMAGE_TYPE, ARCHIVE_TYPE, MODEL_TYPE, URL_TYPE, GATE_TYPE}
    assert code <= listed, f"not documented: {sorted(code - listed)}"
