"""Stations through the gateway: admins create and change them, checked against the model in the
registry; everyone with a key reads them; the reference photo is validated before it is stored."""

import io

from PIL import Image

from tests.integration.conftest import ADMIN_KEY
from tests.support.yolo_models import classify_model, detect_model

ADMIN = {"X-API-Key": ADMIN_KEY}


def register(gw, name, path, task):
    assert gw.post("/api/v1/models", json={"name": name, "task": task}, headers=ADMIN).status_code == 201
    with open(path, "rb") as fh:
        assert (
            gw.post(
                f"/api/v1/models/{name}/versions", files={"file": ("m.onnx", fh)}, headers=ADMIN
            ).status_code
            == 201
        )
    assert (
        gw.put(f"/api/v1/models/{name}/aliases/production", json={"version": 1}, headers=ADMIN).status_code
        == 200
    )


def test_station_lifecycle(gateway_stack):
    gw = gateway_stack
    register(gw, "bench", detect_model(), "detect")
    body = {
        "name": "line-3-bench",
        "mode": "detect",
        "model_name": "bench",
        "expected_items": [{"label": "wrench", "min_count": 1}, {"label": "screwdriver", "min_count": 2}],
        "blur_faces": True,
    }
    assert gw.post("/api/v1/stations", json=body, headers=gw.keys["engineer"]).status_code == 403
    created = gw.post("/api/v1/stations", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    station = created.json()
    assert station["thresholds"] == {"success": 0.7, "low_confidence": 0.5}
    assert station["has_reference_image"] is False
    assert gw.post("/api/v1/stations", json=body, headers=ADMIN).status_code == 409

    unknown_label = {**body, "name": "other", "expected_items": [{"label": "hammer", "min_count": 1}]}
    resp = gw.post("/api/v1/stations", json=unknown_label, headers=ADMIN)
    assert resp.status_code == 422
    assert "hammer" in resp.json()["detail"] and "wrench" in resp.json()["detail"]
    assert (
        gw.post(
            "/api/v1/stations", json={**body, "name": "x", "model_name": "nope"}, headers=ADMIN
        ).status_code
        == 422
    )
    assert (
        gw.post(
            "/api/v1/stations", json={**body, "name": "x", "expected_items": []}, headers=ADMIN
        ).status_code
        == 422
    )
    bad_thresholds = {**body, "name": "x", "thresholds": {"success": 0.4, "low_confidence": 0.6}}
    assert gw.post("/api/v1/stations", json=bad_thresholds, headers=ADMIN).status_code == 422
    # blurring people needs a person detector, and this gateway has none configured
    no_detector = gw.post("/api/v1/stations", json={**body, "name": "x", "blur_people": True}, headers=ADMIN)
    assert no_detector.status_code == 422
    assert "LINESIGHT_PEOPLE_DETECTOR_MODEL" in no_detector.json()["detail"]

    sid = station["id"]
    viewer = gw.keys["viewer"]
    assert gw.get(f"/api/v1/stations/{sid}", headers=viewer).json()["name"] == "line-3-bench"
    patched = gw.patch(
        f"/api/v1/stations/{sid}", json={"thresholds": {"success": 0.8, "low_confidence": 0.4}}, headers=ADMIN
    )
    assert patched.status_code == 200
    assert patched.json()["thresholds"] == {"success": 0.8, "low_confidence": 0.4}
    assert (
        gw.patch(
            f"/api/v1/stations/{sid}", json={"expected_items": [{"label": "drill"}]}, headers=ADMIN
        ).status_code
        == 422
    )
    assert (
        gw.patch(f"/api/v1/stations/{sid}", json={"active": False}, headers=ADMIN).json()["active"] is False
    )
    assert gw.get("/api/v1/stations", params={"active": True}, headers=viewer).json()["total"] == 0
    assert gw.get("/api/v1/stations", params={"active": False}, headers=viewer).json()["total"] == 1

    # reference photo: validated, stored, served back
    assert (
        gw.put(
            f"/api/v1/stations/{sid}/reference-image",
            files={"image": ("x.jpg", b"not an image")},
            headers=ADMIN,
        ).status_code
        == 422
    )
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buf, format="PNG")
    put = gw.put(
        f"/api/v1/stations/{sid}/reference-image", files={"image": ("ref.png", buf.getvalue())}, headers=ADMIN
    )
    assert put.status_code == 200, put.text
    assert put.json()["has_reference_image"] is True
    got = gw.get(f"/api/v1/stations/{sid}/reference-image", headers=viewer)
    assert got.status_code == 200
    assert got.content == buf.getvalue()
    assert got.headers["content-type"] == "image/png"

    actions = [
        e["action"] for e in gw.get("/api/v1/audit", params={"object_id": sid}, headers=ADMIN).json()["items"]
    ]
    assert actions == ["station.reference_image", "station.update", "station.update", "station.create"]

    assert gw.delete(f"/api/v1/stations/{sid}", headers=gw.keys["operator"]).status_code == 403
    assert gw.delete(f"/api/v1/stations/{sid}", headers=ADMIN).status_code == 204
    gone = gw.get(f"/api/v1/stations/{sid}", headers=viewer)
    assert gone.status_code == 404
    # Clients branch on the problem's type, not on its prose: a gateway 404 and a registry 404 passed on
    # through the gateway carry the same not-found type.
    assert gone.json()["type"] == "https://linesight.dev/problems/not-found"
    assert gone.json()["detail"] == f"There is no station with id {sid}."
    no_model = gw.get("/api/v1/models/no-such-model", headers=viewer)
    assert no_model.status_code == 404
    assert no_model.json()["type"] == "https://linesight.dev/problems/not-found"
    assert no_model.json()["detail"] == "There is no model named 'no-such-model'."
    assert gw.get("/api/v1/stations/not-a-uuid", headers=viewer).status_code == 422


def test_classify_station_needs_a_classify_model_and_ok_classes(gateway_stack):
    gw = gateway_stack
    register(gw, "okcheck", classify_model(), "classify")
    register(gw, "bench", detect_model(), "detect")
    base = {"name": "final-check", "mode": "classify", "model_name": "okcheck", "ok_classes": ["ok"]}
    assert gw.post("/api/v1/stations", json=base, headers=ADMIN).status_code == 201
    wrong_model = {**base, "name": "fc2", "model_name": "bench"}
    resp = gw.post("/api/v1/stations", json=wrong_model, headers=ADMIN)
    assert resp.status_code == 422
    assert "classify" in resp.json()["detail"]
    assert (
        gw.post("/api/v1/stations", json={**base, "name": "fc3", "ok_classes": []}, headers=ADMIN).status_code
        == 422
    )
