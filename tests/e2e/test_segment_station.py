"""A defect station from dataset to verdict on the whole local stack, through the gateway (issue 16, "Done
when"): a segment dataset imported from a YOLO-seg zip, a version, a short segment training run by the
stack's worker (with its mask metrics), a promotion, a segment station with a crack limit in millimetres,
an inspection of a plate whose crack is over the limit answered NOK with the rule named, and the
operator's mask correction becoming a dataset item with those polygons.

The one-epoch run shows the chain works; it has not learnt to find cracks. The version promoted is the
tests' segment model (tests/support/yolo_models.py: 40 epochs on the same kind of plates), uploaded as
an engineer would upload a model trained elsewhere."""

import io
import random
import time
import zipfile

import cv2
import pytest

from tests.support.segment_data import SEGMENT_CLASSES, draw_surface, segment_label_lines
from tests.support.synthetic import jpeg
from tests.support.yolo_models import segment_model

NAME = "e2e-plates"
MM_PER_PIXEL = 0.1


def plates_zip(count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    buf = io.BytesIO()
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(SEGMENT_CLASSES))
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data.yaml", f"path: .\ntrain: images/train\nnames:\n{names}\n")
        for i in range(count):
            img, instances = draw_surface(rng)
            zf.writestr(f"images/train/p{i:03d}.jpg", jpeg(img))
            zf.writestr(f"labels/train/p{i:03d}.txt", "\n".join(segment_label_lines(instances, img.size)))
    return buf.getvalue()


def one_crack(seed: int):
    """A plate with one crack and nothing else, and the crack's outline in pixels."""
    rng = random.Random(seed)
    while True:
        img, instances = draw_surface(rng, n=1)
        if instances[0].cls == 0:
            return img, instances[0]


def wait_for(what, check, timeout: float = 300.0, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout:.0f} s"
        time.sleep(every)


def test_a_crack_over_the_limit_is_nok_with_the_rule_named_and_its_correction_is_training_data(gateway):
    assert gateway.post("/api/v1/models", json={"name": NAME, "task": "segment"}).status_code == 201
    resp = gateway.post(
        "/api/v1/datasets",
        json={"name": NAME, "task": "segment", "class_names": SEGMENT_CLASSES, "station": NAME},
    )
    assert resp.status_code == 201, resp.text
    resp = gateway.post(
        f"/api/v1/datasets/{NAME}/imports",
        files={"file": ("plates.zip", plates_zip(24, seed=5), "application/zip")},
        data={"format": "yolo"},
    )
    assert resp.status_code in (200, 201) and resp.json()["added"] == 24, resp.text
    stats = gateway.get(f"/api/v1/datasets/{NAME}/stats").json()
    assert (
        set(stats["instances_per_class"]) <= set(SEGMENT_CLASSES)
        and sum(stats["instances_per_class"].values()) >= 24
    )
    version = gateway.post(f"/api/v1/datasets/{NAME}/versions", json={"notes": "plates"})
    assert version.status_code == 201, version.text

    # A short segment training run by the stack's worker.
    resp = gateway.post(
        "/api/v1/training-runs",
        json={
            "dataset": NAME,
            "dataset_version": version.json()["version"],
            "model_name": NAME,
            "architecture": "yolov8n-seg.yaml",
            "epochs": 1,
            "imgsz": 160,
            "batch": 8,
            "notes": "one epoch: the chain, not a model",
        },
    )
    assert resp.status_code == 201, resp.text
    run_id = resp.json()["id"]

    def finished():
        run = gateway.get(f"/api/v1/training-runs/{run_id}").json()
        return run if run["status"] not in ("queued", "running") else None

    run = wait_for("the training run", finished)
    assert run["status"] == "succeeded", run
    metrics = run["evaluation"]["challenger"]["metrics"]
    assert {"mask_mAP50", "mask_mAP50-95", "dice", "pixel_iou"} <= set(metrics)
    assert run["model_version"] == 1

    # The version promoted: the tests' segment model, uploaded.
    with open(segment_model(), "rb") as fh:
        resp = gateway.post(f"/api/v1/models/{NAME}/versions", files={"file": ("seg.onnx", fh)})
    assert resp.status_code == 201 and resp.json()["version"] == 2, resp.text
    resp = gateway.put(f"/api/v1/models/{NAME}/aliases/production", json={"version": 2, "reason": "e2e"})
    assert resp.status_code == 200, resp.text

    station = gateway.post(
        "/api/v1/stations",
        json={
            "name": NAME,
            "mode": "segment",
            "model_name": NAME,
            "defect_rules": [{"label": "crack", "max_length": 5.0, "unit": "mm"}],
            "mm_per_pixel": MM_PER_PIXEL,
            "training": {"dataset": NAME, "retrain_after": 1, "auto_train": False},
        },
    )
    assert station.status_code == 201, station.text
    sid = station.json()["id"]

    img, crack = one_crack(seed=77)
    photo = jpeg(img)

    def answered_by_v2():
        resp = gateway.post(
            "/api/v1/inspections", data={"station_id": sid}, files={"image": ("p.jpg", photo)}
        )
        assert resp.status_code == 201, resp.text
        answer = resp.json()
        return answer if answer["model"]["version"] == 2 else None

    answer = wait_for("inference serving version 2", answered_by_v2, timeout=60)
    assert answer["status"] == "completed" and answer["verdict"] == "NOK", answer
    [failed] = answer["failed_rules"]
    assert (failed["label"], failed["rule"], failed["unit"], failed["limit"]) == (
        "crack",
        "length",
        "mm",
        5.0,
    )
    assert failed["value"] > 5.0
    assert failed["text"] == f"crack {failed['value']:.1f} mm > 5 mm"
    [defect] = [d for d in answer["defects"] if d["label"] == "crack"]
    # the measured length is the crack's: within 15 % of the drawn crack's rotated-rectangle length

    (_, _), (rw, rh), _ = cv2.minAreaRect(cv2.findNonZero(crack.mask))
    assert defect["length"] == pytest.approx(max(rw, rh) * MM_PER_PIXEL, rel=0.15)

    # The operator redraws the mask; the correction becomes an item of the station's dataset.
    outline = [[float(x), float(y)] for x, y in crack.polygon.tolist()]
    resp = gateway.post(
        f"/api/v1/inspections/{answer['id']}/feedback",
        json={
            "correct": False,
            "corrected_verdict": "NOK",
            "instances": [{"label": "crack", "polygon": outline}],
            "use_for_training": True,
        },
    )
    assert resp.status_code in (200, 201), resp.text

    def synced():
        link = gateway.get(f"/api/v1/inspections/{answer['id']}/feedback").json().get("dataset") or {}
        assert not link.get("error"), link
        return link if link.get("synced") else None

    link = wait_for("the correction reaching the dataset", synced, timeout=90)
    item = gateway.get(f"/api/v1/datasets/{NAME}/items/{link['item_id']}").json()
    assert item["source"] == "feedback" and item["origin"] == f"inspection:{answer['id']}"
    [label] = item["labels"]
    assert label["class_id"] == 0
    w, h = img.size
    stored = [c for point in label["polygon"] for c in point]
    assert stored == pytest.approx([c for x, y in outline for c in (x / w, y / h)], abs=1e-5)
