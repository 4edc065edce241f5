"""The registry's engineering API through the gateway: roles, pass-through of the registry's answers,
the audit trail, and a clear 503 when the registry is down."""

from fastapi.testclient import TestClient

from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from tests.integration.conftest import ADMIN_KEY as ADMIN
from tests.support.servers import free_port
from tests.support.yolo_models import detect_model


def test_engineer_manages_models_viewer_reads(gateway_stack):
    eng, viewer = gateway_stack.keys["engineer"], gateway_stack.keys["viewer"]
    assert (
        gateway_stack.post(
            "/api/v1/models", json={"name": "bench", "task": "detect"}, headers=viewer
        ).status_code
        == 403
    )
    created = gateway_stack.post("/api/v1/models", json={"name": "bench", "task": "detect"}, headers=eng)
    assert created.status_code == 201, created.text
    dup = gateway_stack.post("/api/v1/models", json={"name": "bench", "task": "detect"}, headers=eng)
    assert dup.status_code == 409
    assert "exists" in dup.json()["detail"]

    with open(detect_model(), "rb") as fh:
        up = gateway_stack.post(
            "/api/v1/models/bench/versions",
            files={"file": ("m.onnx", fh)},
            headers=eng,
            data={"metrics": '{"mAP50": 0.9}'},
        )
    assert up.status_code == 201, up.text
    assert up.json()["version"] == 1
    assert up.json()["created_by"].startswith("engineer-key")
    with open(detect_model(), "rb") as fh:
        again = gateway_stack.post(
            "/api/v1/models/bench/versions", files={"file": ("m.onnx", fh)}, headers=eng
        )
    assert again.status_code == 200

    assert gateway_stack.get("/api/v1/models", headers=viewer).json()["total"] == 1
    assert (
        gateway_stack.get("/api/v1/models/bench/versions/1", headers=viewer).json()["sha256"]
        == up.json()["sha256"]
    )
    assert (
        gateway_stack.put(
            "/api/v1/models/bench/aliases/production", json={"version": 1}, headers=viewer
        ).status_code
        == 403
    )
    moved = gateway_stack.put(
        "/api/v1/models/bench/aliases/production", json={"version": 1, "reason": "first"}, headers=eng
    )
    assert moved.status_code == 200, moved.text
    history = gateway_stack.get("/api/v1/models/bench/alias-history", headers=viewer).json()["items"]
    assert history[0]["moved_by"].startswith("engineer-key")
    assert gateway_stack.get("/api/v1/models/bench", headers=viewer).json()["aliases"] == {"production": 1}

    actions = [
        e["action"] for e in gateway_stack.get("/api/v1/audit", headers={"X-API-Key": ADMIN}).json()["items"]
    ]
    assert actions[:3] == ["model.alias_move", "model_version.upload", "model.create"]

    assert gateway_stack.get("/api/v1/models/nope", headers=viewer).status_code == 404
    assert gateway_stack.get("/api/v1/models/bench/versions/7", headers=viewer).status_code == 404
    assert gateway_stack.get("/api/v1/models/Bad Name", headers=viewer).status_code == 422
    bad = gateway_stack.put("/api/v1/models/bench/aliases/production", json={"version": 0}, headers=eng)
    assert bad.status_code == 422


def test_registry_down_is_503_naming_it(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", ADMIN)
    monkeypatch.setenv("LINESIGHT_REGISTRY_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("LINESIGHT_HTTP_RETRIES", "0")
    with TestClient(create_gateway(GatewaySettings())) as gw:
        resp = gw.get("/api/v1/models", headers={"X-API-Key": ADMIN})
        assert resp.status_code == 503
        assert "registry" in resp.json()["detail"]
