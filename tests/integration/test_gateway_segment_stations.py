"""Segment stations through the gateway, on the real registry, inference service, Postgres and S3 store:
defect rules judge a synthetic plate (a crack over the length limit is NOK with the rule in words; a
region of interest that leaves the crack out makes it OK), a mask correction becomes a segment dataset
item with its polygons, and bad stations and corrections are refused with nothing stored."""

import contextlib
import io
import random
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.test_gateway_feedback_dataset import env, wait_for  # noqa: F401
from tests.integration.test_gateway_segment_models import ADMIN
from tests.integration.test_gateway_stations import register
from tests.support.segment_data import draw_surface
from tests.support.servers import serve
from tests.support.yolo_models import detect_model, segment_model

pytestmark = pytest.mark.integration
SIZE = (320, 240)
RULES = [{"label": "crack", "max_length": 5, "unit": "mm"}, {"label": "spot", "max_count": 5}]


def png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def crack_plate(seed: int):
    """A plate with one crack, and the crack's box (pixels) from the very mask drawn."""
    img, (crack,) = draw_surface(random.Random(seed), SIZE, n=1)
    while crack.cls != 0:
        seed += 1
        img, (crack,) = draw_surface(random.Random(seed), SIZE, n=1)
    ys, xs = np.nonzero(crack.mask)
    return img, (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def inspect(gw, sid: str, photo: bytes) -> dict:
    resp = gw.post(
        "/api/v1/inspections", data={"station_id": sid}, files={"image": ("p.png", photo)}, headers=ADMIN
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


def roi_without(box: tuple[int, int, int, int]) -> list[list[float]]:
    """The half of the photo (left, right, top or bottom) that the box does not touch."""
    w, h = SIZE
    x1, y1, x2, _ = box
    if x1 > w / 2:
        return [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
    if x2 < w / 2:
        return [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]
    if y1 > h / 2:
        return [[0, 0], [1, 0], [1, 0.5], [0, 0.5]]
    return [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]


@contextlib.contextmanager
def stack(env):  # noqa: F811
    with serve(create_registry(RegistrySettings())) as registry_url:
        env.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        with serve(create_inference(InferenceSettings())) as inference_url:
            env.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            with TestClient(create_gateway(GatewaySettings())) as gw:
                yield gw


def test_segment_station_rules_roi_and_mask_corrections(env):  # noqa: F811
    with stack(env) as gw:
        register(gw, "cracks", segment_model(), "segment")
        register(gw, "bench", detect_model(), "detect")
        good = {"name": "plates", "mode": "segment", "model_name": "cracks", "defect_rules": RULES}

        # Bad stations: each a 422 saying why, and none stored.
        refusals = [
            ({**good, "mm_per_pixel": 0.1, "roi": [[0, 0], [1, 1], [1, 0], [0, 1]]}, "roi: the polygon"),
            (good, "in mm but the station has no mm_per_pixel"),
            (
                {**good, "mm_per_pixel": 0.1, "defect_rules": [{"label": "dent"}]},
                "dent is not a class of 'cracks'",
            ),
            (
                {
                    "name": "p2",
                    "mode": "detect",
                    "model_name": "cracks",
                    "expected_items": [{"label": "crack"}],
                },
                "is a segment model; a detect station needs a detect model",
            ),
            (
                {**good, "mm_per_pixel": 0.1, "model_name": "bench", "defect_rules": [{"label": "wrench"}]},
                "is a detect model; a segment station needs a segment model",
            ),
        ]
        for body, message in refusals:
            resp = gw.post("/api/v1/stations", json=body, headers=ADMIN)
            assert resp.status_code == 422, resp.text
            assert message in resp.text, resp.text
        assert gw.get("/api/v1/stations", headers=ADMIN).json()["total"] == 0

        station = gw.post("/api/v1/stations", json={**good, "mm_per_pixel": 0.1}, headers=ADMIN)
        assert station.status_code == 201, station.text
        out = station.json()
        assert out["mode"] == "segment" and out["mm_per_pixel"] == 0.1 and out["roi"] is None
        assert out["defect_rules"][0] == {
            "label": "crack",
            "max_count": None,
            "max_largest_area": None,
            "max_total_area_percent": None,
            "max_length": 5.0,
            "unit": "mm",
        }
        sid = out["id"]

        # A crack of 90 px or more at 0.1 mm per pixel is longer than 5 mm: NOK, the rule named.
        img, crack_box = crack_plate(11)
        photo = png(img)
        nok = inspect(gw, sid, photo)
        assert nok["verdict"] == "NOK", nok
        texts = [f["text"] for f in nok["failed_rules"]]
        assert any(re.fullmatch(r"crack \d+(\.\d+)? mm > 5 mm", t) for t in texts), texts
        failed = next(f for f in nok["failed_rules"] if f["label"] == "crack")
        assert failed["rule"] == "length" and failed["value"] > 5 and failed["unit"] == "mm"
        crack = next(p for p in nok["predictions"] if p["label"] == "crack")
        assert len(crack["polygon"]) >= 3 and nok["confidence"] == pytest.approx(
            crack["confidence"], abs=1e-4
        )
        assert any(d["label"] == "crack" and d["unit"] == "mm" and d["inside_roi"] for d in nok["defects"])
        # History keeps the same.
        stored = gw.get(f"/api/v1/inspections/{nok['id']}", headers=ADMIN).json()
        assert stored["failed_rules"] == nok["failed_rules"] and stored["defects"] == nok["defects"]
        metrics = gw.get("/metrics").text
        assert re.search(
            r'linesight_gateway_failed_rules_total\{class="crack",rule="length",station="plates"\} 1\.0',
            metrics,
        )

        # A region of interest that leaves the crack out: the same photo is OK.
        bad_roi = gw.patch(f"/api/v1/stations/{sid}", json={"roi": [[0, 0], [1, 0]]}, headers=ADMIN)
        assert bad_roi.status_code == 422 and "at least 3" in bad_roi.text
        roi = roi_without(crack_box)
        patched = gw.patch(f"/api/v1/stations/{sid}", json={"roi": roi}, headers=ADMIN)
        assert patched.status_code == 200, patched.text
        assert patched.json()["roi"] == roi and patched.json()["mm_per_pixel"] == 0.1
        ok = inspect(gw, sid, photo)
        assert ok["verdict"] == "OK" and ok["failed_rules"] == [], ok
        assert [d["inside_roi"] for d in ok["defects"] if d["label"] == "crack"] == [False]

        # Bad corrections: a 422 that says why, and no feedback stored.
        spot = [[20.0, 20.0], [60.0, 22.0], [58.0, 50.0], [24.0, 48.0]]
        bowtie = [[20.0, 20.0], [60.0, 50.0], [60.0, 20.0], [20.0, 50.0]]
        bad = [
            ([{"label": "spot", "polygon": bowtie}], "Instance 1 (spot)"),
            ([{"label": "dent", "polygon": spot}], "'dent' is not a class"),
            ([{"label": "spot", "polygon": [[20, 20], [400, 20], [20, 60]]}], "outside the 320x240 photo"),
            ([{"label": "spot", "polygon": [[20, 20], [60, 20]]}], "at least 3"),
        ]
        for instances, message in bad:
            body = {
                "correct": False,
                "corrected_verdict": "OK",
                "instances": instances,
                "use_for_training": True,
            }
            resp = gw.post(f"/api/v1/inspections/{nok['id']}/feedback", json=body, headers=ADMIN)
            assert resp.status_code == 422, resp.text
            assert message in resp.json()["detail"], resp.text
        assert gw.get(f"/api/v1/inspections/{nok['id']}/feedback", headers=ADMIN).status_code == 404
        boxes = {
            "correct": False,
            "corrected_verdict": "OK",
            "corrected_boxes": [{"label": "spot", "x1": 1, "y1": 1, "x2": 9, "y2": 9}],
        }
        resp = gw.post(f"/api/v1/inspections/{nok['id']}/feedback", json=boxes, headers=ADMIN)
        assert resp.status_code == 422 and "give instances" in resp.json()["detail"]

        # The crack was a scratch on the lens (left out), and a spot was missed (added).
        correction = {
            "correct": False,
            "corrected_verdict": "OK",
            "instances": [{"label": "spot", "polygon": spot}],
            "use_for_training": True,
        }
        resp = gw.post(f"/api/v1/inspections/{nok['id']}/feedback", json=correction, headers=ADMIN)
        assert resp.status_code == 201, resp.text
        assert resp.json()["instances"] == [{"label": "spot", "polygon": spot}]
        synced = wait_for(gw, nok["id"], lambda b: (b["dataset"] or {}).get("synced"))
        assert synced["dataset"]["dataset"] == "plates" and synced["dataset"]["error"] is None
        dataset = gw.get("/api/v1/datasets/plates", headers=ADMIN).json()
        assert dataset["task"] == "segment" and dataset["class_names"] == ["crack", "spot"]
        item = gw.get(f"/api/v1/datasets/plates/items/{synced['dataset']['item_id']}", headers=ADMIN).json()
        (label,) = item["labels"]
        assert label["class_id"] == 1
        w, h = SIZE
        assert np.allclose(label["polygon"], [[x / w, y / h] for x, y in spot], atol=1e-5)

        # Confirming the answer of the first photo would put the model's crack outline in the dataset.
        resp = gw.post(
            f"/api/v1/inspections/{ok['id']}/feedback",
            json={"correct": True, "use_for_training": True},
            headers=ADMIN,
        )
        assert resp.status_code == 201, resp.text
        confirmed = wait_for(gw, ok["id"], lambda b: (b["dataset"] or {}).get("synced"))
        assert confirmed["dataset"]["error"] is None
        item = gw.get(
            f"/api/v1/datasets/plates/items/{confirmed['dataset']['item_id']}", headers=ADMIN
        ).json()
        assert [lb["class_id"] for lb in item["labels"]] == [0]
