"""Photos unlike the data the model was trained on, with the real registry, inference service and object
store: the registry describes a version's training photos (its dataset version's train split), the
gateway fetches that once per version in the background, and a photo in far dimmer light than the
training photos is flagged `unlike_training_data` at a station too new to have a baseline of its own."""

import time

import httpx
from fastapi.testclient import TestClient
from PIL import ImageEnhance

from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.conftest import SERVICE_TOKEN
from tests.integration.test_gateway_inspections import ADMIN, env  # noqa: F401
from tests.support import unusual_photos as photos
from tests.support.servers import serve
from tests.support.synthetic import CLASSES, jpeg
from tests.support.yolo_models import classify_model, detect_model

STATION = photos.HELD_OUT_STATIONS[2]


def dim(n: int):
    return ImageEnhance.Brightness(photos.normal(STATION, n)).enhance(0.5)


def inspect(gw, sid: str, img) -> dict:
    r = gw.post(
        "/api/v1/inspections", data={"station_id": sid}, files={"image": ("p.jpg", jpeg(img))}, headers=ADMIN
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_a_photo_unlike_the_training_photos_is_flagged(env):  # noqa: F811
    with serve(create_registry(RegistrySettings())) as registry_url:
        env.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        registry = httpx.Client(
            base_url=registry_url, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"}, timeout=60
        )
        with serve(create_inference(InferenceSettings())) as inference_url:
            env.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            with TestClient(create_gateway(GatewaySettings())) as gw:
                # the training data: 30 of the station's photos in its usual light
                made = gw.post(
                    "/api/v1/datasets",
                    json={"name": "bench-photos", "task": "detect", "class_names": CLASSES},
                    headers=ADMIN,
                )
                assert made.status_code == 201, made.text
                for n in range(30):
                    item = gw.post(
                        "/api/v1/datasets/bench-photos/items",
                        files={"file": ("p.jpg", jpeg(photos.normal(STATION, 1000 + n)))},
                        headers=ADMIN,
                    )
                    assert item.status_code == 201, item.text
                version = gw.post("/api/v1/datasets/bench-photos/versions", json={}, headers=ADMIN).json()
                train_items = version["split_counts"]["train"]
                assert train_items >= 10

                assert (
                    registry.post("/v1/models", json={"name": "bench", "task": "detect"}).status_code == 201
                )
                with open(detect_model(), "rb") as fh:
                    up = registry.post(
                        "/v1/models/bench/versions",
                        files={"file": ("m.onnx", fh)},
                        data={"dataset_version_id": version["id"]},
                    )
                assert up.status_code == 201, up.text
                registry.put("/v1/models/bench/aliases/production", json={"version": 1})

                described = registry.get("/v1/models/bench/versions/1/training-photos")
                assert described.status_code == 200, described.text
                body = described.json()
                assert (body["dataset"], body["dataset_version"], body["split"]) == (
                    "bench-photos",
                    1,
                    "train",
                )
                assert body["items"] == train_items and len(body["photos"]) == train_items
                assert body["unreadable"] == 0
                assert all(90 < p["brightness"] < 140 for p in body["photos"]), body["photos"][:3]
                # kept with the dataset version: asked again, the same figures
                assert registry.get("/v1/models/bench/versions/1/training-photos").json() == body

                # a version uploaded without its dataset version has nothing to describe
                assert (
                    registry.post("/v1/models", json={"name": "okcheck", "task": "classify"}).status_code
                    == 201
                )
                with open(classify_model(), "rb") as fh:
                    assert registry.post(
                        "/v1/models/okcheck/versions", files={"file": ("m.onnx", fh)}
                    ).is_success
                none = registry.get("/v1/models/okcheck/versions/1/training-photos")
                assert none.status_code == 404 and "dataset_version_id" in none.json()["detail"]
                assert registry.get("/v1/models/bench/versions/9/training-photos").status_code == 404

                station = gw.post(
                    "/api/v1/stations",
                    headers=ADMIN,
                    json={
                        "name": "bench-3",
                        "mode": "detect",
                        "model_name": "bench",
                        "expected_items": [{"label": label, "min_count": 1} for label in CLASSES],
                    },
                )
                assert station.status_code == 201, station.text
                sid = station.json()["id"]
                # The first answer of version 1 starts the fetch; an inspection never waits for it, so
                # dim photos pass until the baseline is known (the station has no history of its own,
                # and half the light is still inside the fixed bounds).
                assert inspect(gw, sid, photos.normal(STATION, 1))["unusual"] == []
                deadline = time.monotonic() + 60
                found: list[str] = []
                n = 0
                while time.monotonic() < deadline:
                    found = inspect(gw, sid, dim(2000 + n))["unusual"]
                    if found:
                        break
                    n += 1
                    time.sleep(0.3)
                assert found == ["unlike_training_data"]
                assert inspect(gw, sid, photos.normal(STATION, 2))["unusual"] == []
                flagged = gw.get(
                    "/api/v1/inspections", params={"station_id": sid, "unusual": "true"}, headers=ADMIN
                ).json()
                assert flagged["total"] == 1 and flagged["items"][0]["unusual"] == ["unlike_training_data"]
        registry.close()
