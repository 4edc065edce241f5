"""Feedback marked "use for training" becomes a dataset item through the gateway's background sync, on a
real registry, inference service, Postgres and S3 store: labels from the corrected boxes, the station's
dataset created on first use, a new dataset version cut by the station's policy, changes and
withdrawals followed, and nothing lost while the registry is down."""

import contextlib
import random
import time

import pytest
import redis
from fastapi.testclient import TestClient

from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.conftest import ADMIN_KEY, SERVICE_TOKEN
from tests.support.servers import free_port, private_broker, serve
from tests.support.synthetic import CLASSES, draw_scene, jpeg
from tests.support.yolo_models import detect_model

pytestmark = pytest.mark.integration
ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture
def env(fresh_service_env, monkeypatch, tmp_path):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    monkeypatch.setenv("LINESIGHT_MODEL_CACHE_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("LINESIGHT_DATASET_SYNC_INTERVAL_SECONDS", "0.3")
    monkeypatch.setenv("LINESIGHT_HTTP_RETRIES", "0")
    # Training runs started by the station's policy go to a broker database of this test's own.
    broker = private_broker(fresh_service_env["LINESIGHT_REDIS_URL"], "feedback-loop")
    monkeypatch.setenv("LINESIGHT_CELERY_BROKER_URL", broker)
    return monkeypatch


def broker_url() -> str:
    import os

    return os.environ["LINESIGHT_CELERY_BROKER_URL"]


def wait_for(gw, inspection_id: str, check, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = gw.get(f"/api/v1/inspections/{inspection_id}/feedback", headers=ADMIN).json()
        if check(body):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def correction(boxes, use_for_training=True):
    return {
        "correct": False,
        "corrected_verdict": "NOK",
        "corrected_boxes": boxes,
        "use_for_training": use_for_training,
    }


def test_feedback_flows_into_the_station_dataset(env):
    registry_port = free_port()
    with contextlib.ExitStack() as stack:
        first_registry = contextlib.ExitStack()
        registry_url = first_registry.enter_context(
            serve(create_registry(RegistrySettings()), port=registry_port)
        )
        stack.callback(first_registry.close)
        env.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        env.setenv(
            "LINESIGHT_INFERENCE_URL", stack.enter_context(serve(create_inference(InferenceSettings())))
        )
        gw = stack.enter_context(TestClient(create_gateway(GatewaySettings())))

        assert (
            gw.post("/api/v1/models", json={"name": "fb", "task": "detect"}, headers=ADMIN).status_code == 201
        )
        with open(detect_model(), "rb") as fh:
            up = gw.post("/api/v1/models/fb/versions", files={"file": ("m.onnx", fh)}, headers=ADMIN)
        assert up.status_code == 201
        gw.put("/api/v1/models/fb/aliases/production", json={"version": 1}, headers=ADMIN)
        station = gw.post(
            "/api/v1/stations",
            json={
                "name": "fb-bench",
                "mode": "detect",
                "model_name": "fb",
                "expected_items": [{"label": c, "min_count": 1} for c in CLASSES],
                "training": {"retrain_after": 2, "auto_train": True, "epochs": 5, "imgsz": 160},
            },
            headers=ADMIN,
        )
        assert station.status_code == 201, station.text
        assert station.json()["training"]["retrain_after"] == 2
        sid = station.json()["id"]
        rng = random.Random(4)
        shots = []
        for _ in range(2):
            img, placed = draw_scene(rng, present=[0, 1])
            resp = gw.post(
                "/api/v1/inspections",
                data={"station_id": sid},
                files={"image": ("a.jpg", jpeg(img))},
                headers=ADMIN,
            )
            assert resp.status_code == 201, resp.text
            boxes = [
                {"label": CLASSES[p.cls], "x1": p.box[0], "y1": p.box[1], "x2": p.box[2], "y2": p.box[3]}
                for p in placed
            ]
            shots.append((resp.json()["id"], boxes))
        (first, boxes0), (second, boxes1) = shots

        # A detect correction meant for training needs boxes: counts cannot place anything.
        counts_only = {
            "correct": False,
            "corrected_verdict": "NOK",
            "corrected_counts": {"wrench": 1, "screwdriver": 1},
            "use_for_training": True,
        }
        resp = gw.post(f"/api/v1/inspections/{first}/feedback", json=counts_only, headers=ADMIN)
        assert resp.status_code == 422 and "corrected_boxes" in resp.json()["detail"]

        resp = gw.post(f"/api/v1/inspections/{first}/feedback", json=correction(boxes0), headers=ADMIN)
        assert resp.status_code == 201, resp.text
        synced = wait_for(gw, first, lambda b: (b["dataset"] or {}).get("synced"))
        assert synced["dataset"]["dataset"] == "fb-bench"
        item_id = synced["dataset"]["item_id"]

        # The dataset was made on first use, with the classes of the model that answered.
        dataset = gw.get("/api/v1/datasets/fb-bench", headers=ADMIN).json()
        assert dataset["class_names"] == CLASSES and dataset["station"] == "fb-bench"
        item = gw.get(f"/api/v1/datasets/fb-bench/items/{item_id}", headers=ADMIN).json()
        assert item["source"] == "feedback" and item["origin"] == f"inspection:{first}"
        assert sorted(label["class_id"] for label in item["labels"]) == [0, 1]
        wrench = next(b for b in boxes0 if b["label"] == "wrench")
        label = next(lb for lb in item["labels"] if lb["class_id"] == 0)
        assert label["cx"] == pytest.approx((wrench["x1"] + wrench["x2"]) / 2 / 320, abs=1e-4)

        # A changed correction replaces the labels of the same item.
        resp = gw.post(f"/api/v1/inspections/{first}/feedback", json=correction(boxes0[:1]), headers=ADMIN)
        assert resp.status_code == 200
        wait_for(gw, first, lambda b: b["revision"] == 2 and b["dataset"]["synced"])
        item = gw.get(f"/api/v1/datasets/fb-bench/items/{item_id}", headers=ADMIN).json()
        assert len(item["labels"]) == 1
        assert gw.get("/api/v1/datasets/fb-bench/versions", headers=ADMIN).json()["total"] == 0

        # The registry goes away: the correction is kept and reaches the dataset once it is back.
        first_registry.close()
        resp = gw.post(f"/api/v1/inspections/{second}/feedback", json=correction(boxes1), headers=ADMIN)
        assert resp.status_code == 201, resp.text
        pending = wait_for(gw, second, lambda b: b["dataset"]["error"] is not None)
        assert pending["dataset"]["synced"] is False

        with serve(create_registry(RegistrySettings()), port=registry_port):
            body = wait_for(gw, second, lambda b: b["dataset"]["synced"], timeout=60)
            assert body["dataset"]["error"] is None
            # Two feedback items since the last version: the station's policy cut version 1. The station
            # records it once the policy has also tried the training run, so wait for the station's word.
            deadline = time.monotonic() + 30
            while (
                "last_version"
                not in (st := gw.get(f"/api/v1/stations/{sid}", headers=ADMIN).json())["training_state"]
            ):
                assert time.monotonic() < deadline, st["training_state"]
                time.sleep(0.3)
            version = gw.get("/api/v1/datasets/fb-bench/versions/1", headers=ADMIN).json()
            assert version["item_count"] == 2
            assert st["training_state"]["last_version"] == 1
            assert st["training_state"]["feedback_since_version"] == 0
            audit = gw.get("/api/v1/audit", params={"action": "dataset.version.auto"}, headers=ADMIN).json()
            assert audit["items"][0]["actor_name"] == "feedback-loop"
            # The station opted in to training, but both images fell in the train split (the split comes
            # from the image hash): the run is refused, the version stands, and the station says why.
            assert version["split_counts"] == {"train": 2, "val": 0, "test": 0}
            assert "val or test" in st["training_state"]["last_run_error"]
            assert (
                gw.get("/api/v1/training-runs", params={"dataset": "fb-bench"}, headers=ADMIN).json()["total"]
                == 0
            )
            assert redis.Redis.from_url(broker_url()).llen("training") == 0
            assert "val or test" in audit["items"][0]["details"]["training_run_error"]

            # Taken out of training: the item leaves the dataset (the frozen version keeps it).
            withdraw = correction(boxes1, use_for_training=False)
            resp = gw.post(f"/api/v1/inspections/{second}/feedback", json=withdraw, headers=ADMIN)
            assert resp.status_code == 200
            gone = wait_for(gw, second, lambda b: b["dataset"]["synced"] and b["dataset"]["item_id"] is None)
            assert gone["dataset"]["error"] is None
            assert gw.get("/api/v1/datasets/fb-bench", headers=ADMIN).json()["item_count"] == 1
            assert gw.get("/api/v1/datasets/fb-bench/versions/1", headers=ADMIN).json()["item_count"] == 2
