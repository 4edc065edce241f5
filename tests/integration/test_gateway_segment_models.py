"""A segment model through the gateway: engineers upload and promote it as any other model; only a
segment station may use it (test_gateway_segment_stations.py): a detect or classify station naming it is
refused with a 422 that says why, and nothing is stored."""

from tests.integration.conftest import ADMIN_KEY
from tests.integration.test_gateway_stations import register
from tests.support.yolo_models import segment_model

ADMIN = {"X-API-Key": ADMIN_KEY}


def test_a_segment_model_is_uploaded_and_only_a_segment_station_takes_it(gateway_stack):
    gw = gateway_stack
    register(gw, "cracks", segment_model(), "segment")
    version = gw.get("/api/v1/models/cracks/versions/1", headers=ADMIN).json()
    assert version["task"] == "segment" and version["class_names"] == {"0": "crack", "1": "spot"}

    detect = {
        "name": "plate-check",
        "mode": "detect",
        "model_name": "cracks",
        "expected_items": [{"label": "crack", "min_count": 1}],
    }
    resp = gw.post("/api/v1/stations", json=detect, headers=ADMIN)
    assert resp.status_code == 422, resp.text
    assert "is a segment model; a detect station needs a detect model" in resp.json()["detail"]
    classify = {"name": "plate-ok", "mode": "classify", "model_name": "cracks", "ok_classes": ["spot"]}
    resp = gw.post("/api/v1/stations", json=classify, headers=ADMIN)
    assert resp.status_code == 422, resp.text
    assert "is a segment model; a classify station needs a classify model" in resp.json()["detail"]
    resp = gw.post("/api/v1/stations", json={**detect, "mode": "segment"}, headers=ADMIN)
    assert resp.status_code == 422  # a segment station judges by defect rules, not expected items
    assert "a segment station needs defect_rules" in resp.text
    assert gw.get("/api/v1/stations", headers=ADMIN).json()["total"] == 0
    segment = {
        "name": "plate-check",
        "mode": "segment",
        "model_name": "cracks",
        "defect_rules": [{"label": "crack"}],
    }
    resp = gw.post("/api/v1/stations", json=segment, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    assert resp.json()["defect_rules"][0]["label"] == "crack"
