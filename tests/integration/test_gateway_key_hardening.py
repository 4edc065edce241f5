"""Holes in API keys, each attacked on a real gateway (Postgres, S3): a revoked bootstrap key coming back
at restart, a revoked key put back into the cache by a request that raced the revocation, a key name
that is not ASCII breaking proxied writes, and an operator key used at a station it was not issued for."""

from __future__ import annotations

import io
import uuid

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from linesight_core.clients.registry import decode_actor, encode_actor
from linesight_gateway.db.models import Inspection, LabelRead, Station
from linesight_gateway.domain.access import authenticate
from linesight_gateway.main import create_app
from linesight_gateway.settings import GatewaySettings
from tests.integration.conftest import ADMIN_KEY

ADMIN = {"X-API-Key": ADMIN_KEY}


def key_of(resp) -> dict[str, str]:  # type: ignore[no-untyped-def]
    assert resp.status_code == 201, resp.text
    return {"X-API-Key": resp.json()["key"]}


@pytest.fixture
def gateway_env(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    for name in ("REGISTRY", "INFERENCE", "OCR", "TRAINING_WORKER"):
        monkeypatch.setenv(f"LINESIGHT_{name}_URL", "http://127.0.0.1:9")
    return monkeypatch


def test_a_revoked_bootstrap_key_stays_revoked_after_a_restart(gateway_env):
    with TestClient(create_app(GatewaySettings())) as gw:
        keys = gw.get("/api/v1/api-keys", headers=ADMIN).json()["items"]
        bootstrap = next(k for k in keys if k["bootstrap"])
        second = key_of(
            gw.post("/api/v1/api-keys", json={"name": "ops admin", "role": "admin"}, headers=ADMIN)
        )
        assert gw.delete(f"/api/v1/api-keys/{bootstrap['id']}", headers=second).status_code == 200
        assert gw.get("/api/v1/me", headers=ADMIN).status_code == 401
    # the same LINESIGHT_ADMIN_API_KEY at the next start: the leaked key must not come back
    with TestClient(create_app(GatewaySettings())) as gw:
        assert gw.get("/api/v1/me", headers=ADMIN).status_code == 401
        assert gw.get("/api/v1/me", headers=second).json()["role"] == "admin"
        listed = gw.get("/api/v1/api-keys", params={"include_revoked": True}, headers=second).json()["items"]
        assert next(k for k in listed if k["id"] == bootstrap["id"])["revoked_at"] is not None


def test_a_request_racing_the_revocation_cannot_cache_the_key_again(gateway_env):
    with TestClient(create_app(GatewaySettings())) as gw:
        created = gw.post("/api/v1/api-keys", json={"name": "tablet", "role": "operator"}, headers=ADMIN)
        raw, key_id = created.json()["key"], created.json()["id"]
        assert gw.get("/api/v1/me", headers={"X-API-Key": raw}).status_code == 200
        # a request on another worker thread looked the key up just before the revocation committed...
        with gw.app.state.session_factory() as session:
            read_before = authenticate(session, raw)
        assert read_before is not None
        assert gw.delete(f"/api/v1/api-keys/{key_id}", headers=ADMIN).status_code == 200
        # ...and stores what it read after it: the key must still be refused at once
        gw.app.state.key_cache.put(raw, read_before)
        refused = gw.get("/api/v1/me", headers={"X-API-Key": raw})
        assert refused.status_code == 401, refused.text


def test_a_key_named_in_non_ascii_makes_proxied_writes(gateway_stack):
    gw = gateway_stack
    key = key_of(
        gw.post("/api/v1/api-keys", json={"name": "Prüfstand 3 – Köln", "role": "engineer"}, headers=ADMIN)
    )
    created = gw.post("/api/v1/models", json={"name": "bench", "task": "detect"}, headers=key)
    assert created.status_code == 201, created.text
    changed = gw.patch("/api/v1/models/bench", json={"description": "Schraubstation"}, headers=key)
    assert changed.status_code == 200, changed.text
    audit = gw.get("/api/v1/audit", params={"action": "model.create"}, headers=ADMIN).json()["items"]
    assert audit[0]["actor_name"] == "Prüfstand 3 – Köln"
    assert decode_actor(encode_actor("Prüfstand 3 – Köln (x)")) == "Prüfstand 3 – Köln (x)"


def _seed_station(session, name: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:  # type: ignore[no-untyped-def]
    station = Station(name=name, mode="detect", model_name="bench", expected_items=[], ok_classes=[])
    session.add(station)
    session.flush()
    inspection = Inspection(
        station_id=station.id,
        status="completed",
        verdict="OK",
        model_name="bench",
        model_alias="production",
        model_version=1,
        image_key=f"inspections/{uuid.uuid4().hex}",
        image_sha256="0" * 64,
        image_width=64,
        image_height=64,
    )
    read = LabelRead(
        status="needs_review",
        station_id=station.id,
        station_name=name,
        image_key=f"labels/{uuid.uuid4().hex}",
        image_sha256="0" * 64,
        image_content_type="image/png",
        image_width=64,
        image_height=64,
    )
    session.add_all([inspection, read])
    session.flush()
    return station.id, inspection.id, read.id


def test_a_station_scoped_key_is_refused_at_other_stations(gateway_env):
    with TestClient(create_app(GatewaySettings())) as gw:
        with gw.app.state.session_factory() as session:
            own, own_inspection, own_read = _seed_station(session, "line-a")
            other, other_inspection, other_read = _seed_station(session, "line-b")
            session.commit()

        def issue(role: str, stations: list[str]):  # type: ignore[no-untyped-def]
            body = {"name": f"{role} at {stations}", "role": role, "stations": stations}
            return gw.post("/api/v1/api-keys", json=body, headers=ADMIN)

        assert issue("operator", ["nowhere"]).status_code == 422
        assert issue("admin", ["line-a"]).status_code == 422
        scoped_resp = issue("operator", ["line-a"])
        assert scoped_resp.json()["station_ids"] == [str(own)]
        scoped = key_of(scoped_resp)
        assert key_of(issue("viewer", [str(own)])) != scoped  # by id works too
        assert gw.get("/api/v1/me", headers=scoped).json()["station_ids"] == [str(own)]

        photo = io.BytesIO()
        Image.new("RGB", (64, 64), (90, 90, 90)).save(photo, "JPEG")
        refused = {
            "station": gw.get(f"/api/v1/stations/{other}", headers=scoped),
            "stats": gw.get(f"/api/v1/stations/{other}/stats", headers=scoped),
            "inspection": gw.get(f"/api/v1/inspections/{other_inspection}", headers=scoped),
            "photo": gw.get(f"/api/v1/inspections/{other_inspection}/image", headers=scoped),
            "history": gw.get("/api/v1/inspections", params={"station_id": str(other)}, headers=scoped),
            "inspect": gw.post(
                "/api/v1/inspections",
                data={"station_id": str(other)},
                files={"image": ("p.jpg", photo.getvalue(), "image/jpeg")},
                headers=scoped,
            ),
            "feedback": gw.get(f"/api/v1/inspections/{other_inspection}/feedback", headers=scoped),
            "give feedback": gw.post(
                f"/api/v1/inspections/{other_inspection}/feedback", json={"correct": True}, headers=scoped
            ),
            "label read": gw.get(f"/api/v1/labels/{other_read}", headers=scoped),
            "approve": gw.post(f"/api/v1/labels/{other_read}/approve", headers=scoped),
        }
        assert {what: r.status_code for what, r in refused.items()} == dict.fromkeys(refused, 403)
        assert "limited to its own stations" in refused["inspection"].json()["detail"]

        # its own station works, and lists show only it
        assert gw.get(f"/api/v1/stations/{own}", headers=scoped).status_code == 200
        assert gw.get(f"/api/v1/inspections/{own_inspection}", headers=scoped).status_code == 200
        assert gw.get(f"/api/v1/labels/{own_read}", headers=scoped).status_code == 200
        assert [s["id"] for s in gw.get("/api/v1/stations", headers=scoped).json()["items"]] == [str(own)]
        listed = gw.get("/api/v1/inspections", headers=scoped).json()
        assert [i["id"] for i in listed["items"]] == [str(own_inspection)] and listed["total"] == 1
        reads = gw.get("/api/v1/labels", headers=scoped).json()["items"]
        assert [r["id"] for r in reads] == [str(own_read)]

        # a key without stations still acts everywhere
        anywhere = key_of(
            gw.post("/api/v1/api-keys", json={"name": "shift lead", "role": "operator"}, headers=ADMIN)
        )
        assert gw.get(f"/api/v1/inspections/{other_inspection}", headers=anywhere).status_code == 200
        assert len(gw.get("/api/v1/stations", headers=anywhere).json()["items"]) == 2
