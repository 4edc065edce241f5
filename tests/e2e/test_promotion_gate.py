"""Promotion with evidence on the whole local stack, through the gateway (issue 15, "Done when"): a station
builds verified history under a production version whose labels are mixed up (it calls the screwdriver
tape and the tape a screwdriver); a worse candidate, trained by the stack's worker for a single epoch,
replays worse and the gate refuses its promotion with the figures; a better one (the test detector,
trained for 30 epochs) replays better, passes the gate, is promoted and answers the next inspection."""

import random
import time

import pytest

from tests.support.onnx_models import with_metadata
from tests.support.synthetic import CLASSES, draw_scene, jpeg, write_detect_zip
from tests.support.verified_history import BENCHES, EXPECTED, MIXED_UP, give_feedback
from tests.support.yolo_models import detect_model

MODEL = "gate-bench"


def upload(gateway, path) -> int:
    with open(path, "rb") as fh:
        resp = gateway.post(f"/api/v1/models/{MODEL}/versions", files={"file": ("m.onnx", fh)})
    assert resp.status_code == 201, resp.text
    return resp.json()["version"]


def replay(gateway, sid: str, version: int) -> dict:
    resp = gateway.post(
        f"/api/v1/stations/{sid}/replays", json={"model": MODEL, "version": version, "last_n": 100}
    )
    assert resp.status_code == 202, resp.text
    deadline = time.monotonic() + 180
    while True:
        job = gateway.get(f"/api/v1/stations/{sid}/replays/{resp.json()['id']}").json()
        if job["status"] not in ("queued", "running"):
            assert job["status"] == "completed", job
            return job["result"]
        assert time.monotonic() < deadline, job
        time.sleep(0.5)


def train_one_epoch(gateway, tmp_path) -> int:
    """A version of MODEL trained by the stack's training worker for one epoch on a small dataset: too
    little training to count tools. Returns its version."""
    resp = gateway.post("/api/v1/datasets", json={"name": MODEL, "task": "detect", "class_names": CLASSES})
    assert resp.status_code == 201, resp.text
    archive = write_detect_zip(tmp_path / "bench.zip", 24, seed=7)
    with archive.open("rb") as fh:
        resp = gateway.post(
            f"/api/v1/datasets/{MODEL}/imports", files={"file": ("bench.zip", fh)}, data={"format": "yolo"}
        )
    assert resp.status_code in (200, 201), resp.text
    resp = gateway.post(f"/api/v1/datasets/{MODEL}/versions", json={"notes": "for a quick run"})
    assert resp.status_code == 201, resp.text
    resp = gateway.post(
        "/api/v1/training-runs",
        json={
            "dataset": MODEL,
            "dataset_version": resp.json()["version"],
            "model_name": MODEL,
            "architecture": "yolov8n.yaml",
            "epochs": 1,
            "imgsz": 160,
            "batch": 8,
            "notes": "one epoch: the worse candidate",
        },
    )
    assert resp.status_code == 201, resp.text
    deadline = time.monotonic() + 300
    while True:
        run = gateway.get(f"/api/v1/training-runs/{resp.json()['id']}").json()
        if run["status"] not in ("queued", "running"):
            assert run["status"] == "succeeded", run
            assert run["epochs_done"] == 1
            return int(run["model_version"])
        assert time.monotonic() < deadline, run
        time.sleep(1)


def inspect(gateway, sid: str, present: list[int], rng: random.Random) -> dict:
    img, _ = draw_scene(rng, present=present)
    resp = gateway.post(
        "/api/v1/inspections", data={"station_id": sid}, files={"image": ("p.jpg", jpeg(img))}
    )
    assert resp.status_code == 201 and resp.json()["status"] == "completed", resp.text
    return resp.json()


def test_a_worse_version_is_refused_and_a_better_one_promoted(gateway, tmp_path):
    engineer = {
        "X-API-Key": gateway.post("/api/v1/api-keys", json={"name": "gate-eng", "role": "engineer"}).json()[
            "key"
        ]
    }
    assert gateway.post("/api/v1/models", json={"name": MODEL, "task": "detect"}).status_code == 201
    trained = detect_model()
    assert upload(gateway, with_metadata(trained, tmp_path / "mixed.onnx", names=MIXED_UP)) == 1
    assert gateway.put(f"/api/v1/models/{MODEL}/aliases/production", json={"version": 1}).status_code == 200
    station = gateway.post(
        "/api/v1/stations",
        json={
            "name": "gate-bench-1",
            "mode": "detect",
            "model_name": MODEL,
            "expected_items": [{"label": k, "min_count": v} for k, v in EXPECTED.items()],
        },
    )
    assert station.status_code == 201, station.text
    sid = station.json()["id"]

    # Verified history: operators confirm the right answers and correct the wrong ones.
    rng = random.Random(31)
    for present in BENCHES:
        give_feedback(gateway, inspect(gateway, sid, present, rng), present)

    resp = gateway.put(f"/api/v1/stations/{sid}/promotion-gate", json={"min_verified": len(BENCHES)})
    assert resp.status_code == 200 and resp.json()["gated"] is True, resp.text

    # A worse version: one epoch of training has not learnt to find the tools.
    assert train_one_epoch(gateway, tmp_path) == 2
    worse = replay(gateway, sid, 2)
    assert worse["replayed"] == len(BENCHES)
    # production's mixed-up labels get the two benches with only one of screwdriver and tape wrong
    assert worse["production"]["verdict_accuracy"] == pytest.approx(5 / 7)
    assert worse["candidate"]["verdict_accuracy"] < 5 / 7, worse["candidate"]
    refused = gateway.put(f"/api/v1/models/{MODEL}/aliases/production", json={"version": 2}, headers=engineer)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "https://linesight.dev/problems/promotion-gate"
    assert refused.json()["failed_rules"] == ["verdict_accuracy"]
    [check] = refused.json()["gate"]["stations"]
    accuracy = worse["candidate"]["verdict_accuracy"]
    assert (check["verified"], check["candidate"]["verdict_accuracy"]) == (7, pytest.approx(accuracy))
    assert f"verdict accuracy {accuracy:.4f} is below production v1's 0.7143" in refused.json()["detail"]

    # A better version: the same detector with its labels right.
    assert upload(gateway, trained) == 3
    better = replay(gateway, sid, 3)
    assert better["candidate"]["verdict_accuracy"] == 1.0 and better["candidate"]["nok_recall"] == 1.0
    assert better["production"]["nok_recall"] == pytest.approx(3 / 4)  # it passed the bench without tape
    moved = gateway.put(
        f"/api/v1/models/{MODEL}/aliases/production",
        json={"version": 3, "reason": "replay of gate-bench-1 is better"},
        headers=engineer,
    )
    assert moved.status_code == 200 and moved.json()["version"] == 3, moved.text

    # The station is answered by the promoted version (inference swaps on the promotion event).
    deadline = time.monotonic() + 60
    while True:
        answer = inspect(gateway, sid, [0, 1], rng)  # no tape: the mixed-up version said OK here
        if answer["model"]["version"] == 3:
            break
        assert time.monotonic() < deadline, answer
        time.sleep(1)
    assert answer["verdict"] == "NOK" and [m["label"] for m in answer["missing"]] == ["tape"]
