"""On the whole local stack: a model uploaded and promoted through the gateway answers an inspection of
a generated station photo; with the inference process stopped, inspections are kept as `pending` and
completed by the gateway once inference runs again. No photo is lost."""

import random
import time

import pytest

from tests.support.synthetic import CLASSES, draw_scene, jpeg
from tests.support.yolo_models import detect_model


@pytest.fixture(scope="module")
def station_id(gateway):
    assert gateway.post("/api/v1/models", json={"name": "e2e-bench", "task": "detect"}).status_code == 201
    with open(detect_model(), "rb") as fh:
        up = gateway.post("/api/v1/models/e2e-bench/versions", files={"file": ("m.onnx", fh)})
    assert up.status_code == 201, up.text
    assert gateway.put("/api/v1/models/e2e-bench/aliases/production", json={"version": 1}).status_code == 200
    resp = gateway.post(
        "/api/v1/stations",
        json={
            "name": "e2e-bench-1",
            "mode": "detect",
            "model_name": "e2e-bench",
            "expected_items": [{"label": c, "min_count": 1} for c in CLASSES],
        },
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def inspect(gateway, station_id, img):
    return gateway.post(
        "/api/v1/inspections", data={"station_id": station_id}, files={"image": ("p.jpg", jpeg(img))}
    )


def test_inspection_through_the_stack(gateway, station_id):
    rng = random.Random(21)
    full, _ = draw_scene(rng, present=[0, 1, 2])
    missing, _ = draw_scene(rng, present=[1, 2])
    ok = inspect(gateway, station_id, full)
    assert ok.status_code == 201, ok.text
    assert ok.json()["verdict"] == "OK"
    assert ok.json()["model"] == {
        "name": "e2e-bench",
        "alias": "production",
        "version": 1,
        "sha256": ok.json()["model"]["sha256"],
    }
    nok = inspect(gateway, station_id, missing)
    assert nok.json()["verdict"] == "NOK"
    assert [m["label"] for m in nok.json()["missing"]] == ["wrench"]
    stored = gateway.get(f"/api/v1/inspections/{ok.json()['id']}/image")
    assert stored.content == jpeg(full)


def test_inference_outage_keeps_photos_pending_until_it_returns(stack, gateway, station_id):
    rng = random.Random(22)
    stack.stop_process("inference")
    try:
        pending = []
        for _ in range(4):
            img, _ = draw_scene(rng, present=[0, 1, 2])
            resp = inspect(gateway, station_id, img)
            assert resp.status_code == 202, resp.text
            assert resp.json()["status"] == "pending"
            pending.append(resp.json()["id"])
    finally:
        stack.start_process("inference")
    deadline = time.monotonic() + 120
    states = {}
    while time.monotonic() < deadline:
        states = {i: gateway.get(f"/api/v1/inspections/{i}").json() for i in pending}
        if all(s["status"] == "completed" for s in states.values()):
            break
        time.sleep(1)
    assert all(s["status"] == "completed" for s in states.values()), [s["status"] for s in states.values()]
    assert all(s["verdict"] in ("OK", "NOK") and s["model"]["version"] == 1 for s in states.values())
