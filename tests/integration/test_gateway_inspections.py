"""Inspections through the gateway with the real registry and inference service: a generated station
photo goes through storage and the model and comes back OK or NOK; with inference down the photo is kept
as `pending` and completed once inference is back."""

import io
import random

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from linesight_core.storage import ObjectStore
from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.conftest import ADMIN_KEY, SERVICE_TOKEN
from tests.support.face_photos import PHOTOS
from tests.support.servers import free_port, serve
from tests.support.synthetic import CLASSES, draw_scene, jpeg
from tests.support.yolo_models import detect_model

ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture
def env(fresh_service_env, monkeypatch, tmp_path):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("LINESIGHT_ADMIN_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    monkeypatch.setenv("LINESIGHT_MODEL_CACHE_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("LINESIGHT_REPROCESS_INTERVAL_SECONDS", "0.5")
    monkeypatch.setenv("LINESIGHT_HTTP_RETRIES", "0")
    return monkeypatch


def setup_station(gw) -> str:
    assert (
        gw.post("/api/v1/models", json={"name": "bench", "task": "detect"}, headers=ADMIN).status_code == 201
    )
    with open(detect_model(), "rb") as fh:
        assert (
            gw.post(
                "/api/v1/models/bench/versions", files={"file": ("m.onnx", fh)}, headers=ADMIN
            ).status_code
            == 201
        )
    gw.put("/api/v1/models/bench/aliases/production", json={"version": 1}, headers=ADMIN)
    station = gw.post(
        "/api/v1/stations",
        headers=ADMIN,
        json={
            "name": "bench-1",
            "mode": "detect",
            "model_name": "bench",
            "expected_items": [{"label": label, "min_count": 1} for label in CLASSES],
        },
    )
    assert station.status_code == 201, station.text
    return station.json()["id"]


def test_inspection_round_trip(env):
    with serve(create_registry(RegistrySettings())) as registry_url:
        env.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        with serve(create_inference(InferenceSettings())) as inference_url:
            env.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            with TestClient(create_gateway(GatewaySettings())) as gw:
                sid = setup_station(gw)
                operator = gw.post(
                    "/api/v1/api-keys", json={"name": "op", "role": "operator"}, headers=ADMIN
                ).json()
                op = {"X-API-Key": operator["key"]}
                rng = random.Random(3)
                full, _ = draw_scene(rng, present=[0, 1, 2])
                partial, _ = draw_scene(rng, present=[0, 2])

                ok = gw.post(
                    "/api/v1/inspections",
                    data={"station_id": sid},
                    files={"image": ("a.jpg", jpeg(full))},
                    headers=op,
                )
                assert ok.status_code == 201, ok.text
                body = ok.json()
                assert body["status"] == "completed"
                assert body["verdict"] == "OK"
                assert body["model"]["version"] == 1
                assert set(body["counts"]) == set(CLASSES)
                assert body["image"]["width"] == 320

                nok = gw.post(
                    "/api/v1/inspections",
                    data={"station_id": sid},
                    files={"image": ("b.jpg", jpeg(partial))},
                    headers=op,
                )
                assert nok.status_code == 201
                assert nok.json()["verdict"] == "NOK"
                assert [m["label"] for m in nok.json()["missing"]] == ["screwdriver"]

                # the stored photo and the annotated copy come back
                img = gw.get(f"/api/v1/inspections/{body['id']}/image", headers=op)
                assert img.status_code == 200 and img.content == jpeg(full)
                ann = gw.get(f"/api/v1/inspections/{body['id']}/annotated", headers=op)
                assert ann.headers["content-type"] == "image/jpeg"
                assert Image.open(io.BytesIO(ann.content)).size == (320, 240)

                history = gw.get(
                    "/api/v1/inspections", params={"station_id": sid, "verdict": "NOK"}, headers=op
                ).json()
                assert history["total"] == 1
                assert (
                    gw.get("/api/v1/inspections", params={"sort": "oldest"}, headers=op).json()["items"][0][
                        "id"
                    ]
                    == body["id"]
                )

                # bad input: nothing stored, clear 4xx
                before = gw.get("/api/v1/inspections", headers=op).json()["total"]
                assert (
                    gw.post(
                        "/api/v1/inspections",
                        data={"station_id": sid},
                        files={"image": ("x.jpg", b"nope")},
                        headers=op,
                    ).status_code
                    == 422
                )
                # A photo that looks like a JPEG but breaks off: the gateway starts storing it while it
                # checks it, and removes it again when the check fails.
                settings = GatewaySettings()
                store = ObjectStore.from_settings(settings)

                def stored_photos() -> int:
                    objects = store.client.list_objects(
                        settings.bucket("images"), "inspections/", recursive=True
                    )
                    return sum(1 for _ in objects)

                photos_before = stored_photos()
                broken = gw.post(
                    "/api/v1/inspections",
                    data={"station_id": sid},
                    files={"image": ("cut.jpg", jpeg(full)[:2000])},
                    headers=op,
                )
                assert broken.status_code == 422, broken.text
                assert stored_photos() == photos_before
                # A large JPEG is checked on a reduced decode (DCT domain), which still reads every block:
                # cut in half, or with a damaged Huffman table (its layout intact, so it is being stored
                # while the check runs), it is refused all the same and nothing is kept.
                camera = jpeg(full.resize((2560, 1920), Image.Resampling.BICUBIC))
                whole = gw.post(
                    "/api/v1/inspections",
                    data={"station_id": sid},
                    files={"image": ("camera.jpg", camera)},
                    headers=op,
                )
                assert whole.status_code == 201, whole.text
                assert (whole.json()["image"]["width"], whole.json()["image"]["height"]) == (2560, 1920)
                assert whole.json()["verdict"] == "OK"
                # boxes in the photo's own pixels: 8 times those of the same scene sent at 320 x 240
                small = {p["label"]: p["box"] for p in body["predictions"]}
                for p in whole.json()["predictions"]:
                    for corner in ("x1", "y1", "x2", "y2"):
                        assert abs(p["box"][corner] - 8 * small[p["label"]][corner]) < 50, (p, small)
                photos_before = stored_photos()
                before += 1
                table = camera.index(b"\xff\xc4")  # DHT: marker, length, class/id, then 16 code counts
                for name, damaged in (
                    ("half.jpg", camera[: len(camera) // 2]),
                    ("huffman.jpg", camera[: table + 5] + b"\xff" * 16 + camera[table + 21 :]),
                ):
                    refused = gw.post(
                        "/api/v1/inspections",
                        data={"station_id": sid},
                        files={"image": (name, damaged)},
                        headers=op,
                    )
                    assert refused.status_code == 422, (name, refused.text)
                    assert "damaged" in refused.json()["detail"], refused.text
                    assert stored_photos() == photos_before, name
                batch_refused = gw.post(
                    "/api/v1/inspections/batch",
                    data={"station_id": sid},
                    files=[("images", ("a.jpg", camera)), ("images", ("half.jpg", camera[:-5000]))],
                    headers=op,
                )
                assert batch_refused.status_code == 422, batch_refused.text
                assert batch_refused.json()["detail"].startswith("Photo 2 (half.jpg)")
                assert stored_photos() == photos_before
                tiny = io.BytesIO()
                Image.new("RGB", (1, 1)).save(tiny, format="PNG")
                assert gw.post(
                    "/api/v1/inspections",
                    data={"station_id": sid},
                    files={"image": ("t.png", tiny.getvalue())},
                    headers=op,
                ).status_code in (201, 202)
                unknown = gw.post(
                    "/api/v1/inspections",
                    data={"station_id": "00000000-0000-0000-0000-000000000000"},
                    files={"image": ("a.jpg", jpeg(full))},
                    headers=op,
                )
                assert unknown.status_code == 404
                viewer = gw.post(
                    "/api/v1/api-keys", json={"name": "v", "role": "viewer"}, headers=ADMIN
                ).json()["key"]
                assert (
                    gw.post(
                        "/api/v1/inspections",
                        data={"station_id": sid},
                        files={"image": ("a.jpg", jpeg(full))},
                        headers={"X-API-Key": viewer},
                    ).status_code
                    == 403
                )
                assert gw.get("/api/v1/inspections", headers=op).json()["total"] == before + 1

                batch = gw.post(
                    "/api/v1/inspections/batch",
                    data={"station_id": sid},
                    files=[("images", ("a.jpg", jpeg(full))), ("images", ("b.jpg", jpeg(partial)))],
                    headers=op,
                )
                assert batch.status_code == 200, batch.text
                assert [i["verdict"] for i in batch.json()] == ["OK", "NOK"]

                # A station that blurs faces stores the photo with every face blurred, the shouting
                # three-quarter profile in zidane.jpg included, and the rest of the scene as it was.
                blurring = gw.patch(f"/api/v1/stations/{sid}", json={"blur_faces": True}, headers=ADMIN)
                assert blurring.status_code == 200, blurring.text
                zidane = PHOTOS[0]
                sent = zidane.path.read_bytes()
                shot = gw.post(
                    "/api/v1/inspections",
                    data={"station_id": sid},
                    files={"image": ("zidane.jpg", sent)},
                    headers=op,
                )
                assert shot.status_code == 201, shot.text
                assert shot.json()["image"]["faces_blurred"] == len(zidane.faces)
                kept = gw.get(f"/api/v1/inspections/{shot.json()['id']}/image", headers=op)
                before = np.asarray(Image.open(io.BytesIO(sent)).convert("RGB"))
                after = np.asarray(Image.open(io.BytesIO(kept.content)).convert("RGB"))
                for x1, y1, x2, y2 in zidane.faces:
                    face_before = cv2.cvtColor(before[y1:y2, x1:x2], cv2.COLOR_RGB2GRAY)
                    face_after = cv2.cvtColor(after[y1:y2, x1:x2], cv2.COLOR_RGB2GRAY)
                    assert (
                        cv2.Laplacian(face_after, cv2.CV_64F).var()
                        < cv2.Laplacian(face_before, cv2.CV_64F).var() / 20
                    )
                for x1, y1, x2, y2 in zidane.empty:  # stored re-encoded (JPEG), so alike, not equal
                    diff = np.abs(before[y1:y2, x1:x2].astype(int) - after[y1:y2, x1:x2].astype(int))
                    assert diff.mean() < 3


def test_inference_down_then_back_completes_pending(env):
    inference_port = free_port()
    with serve(create_registry(RegistrySettings())) as registry_url:
        env.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        env.setenv("LINESIGHT_INFERENCE_URL", f"http://127.0.0.1:{inference_port}")
        with TestClient(create_gateway(GatewaySettings())) as gw:
            sid = setup_station(gw)
            rng = random.Random(5)
            ids = []
            for _ in range(3):
                img, _ = draw_scene(rng, present=[0, 1, 2])
                resp = gw.post(
                    "/api/v1/inspections",
                    data={"station_id": sid},
                    files={"image": ("a.jpg", jpeg(img))},
                    headers=ADMIN,
                )
                assert resp.status_code == 202, resp.text
                assert resp.json()["status"] == "pending"
                assert "inference" in resp.json()["error"]
                ids.append(resp.json()["id"])
            assert (
                gw.get("/api/v1/inspections", params={"status": "pending"}, headers=ADMIN).json()["total"]
                == 3
            )

            with serve(create_inference(InferenceSettings()), port=inference_port):
                import time

                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    pending = gw.get(
                        "/api/v1/inspections", params={"status": "pending"}, headers=ADMIN
                    ).json()["total"]
                    if pending == 0:
                        break
                    time.sleep(0.5)
                assert pending == 0, "the reprocessor did not complete the pending inspections"
            for inspection_id in ids:
                done = gw.get(f"/api/v1/inspections/{inspection_id}", headers=ADMIN).json()
                assert done["status"] == "completed"
                assert done["verdict"] in ("OK", "NOK")
                assert done["model"]["version"] == 1
                assert done["attempts"] >= 1


def test_feedback_history_and_accuracy(env):
    with serve(create_registry(RegistrySettings())) as registry_url:
        env.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        with serve(create_inference(InferenceSettings())) as inference_url:
            env.setenv("LINESIGHT_INFERENCE_URL", inference_url)
            with TestClient(create_gateway(GatewaySettings())) as gw:
                sid = setup_station(gw)
                rng = random.Random(11)
                ids = []
                for present in ([0, 1, 2], [0, 1, 2], [0, 2]):
                    img, _ = draw_scene(rng, present=present)
                    resp = gw.post(
                        "/api/v1/inspections",
                        data={"station_id": sid},
                        files={"image": ("a.jpg", jpeg(img))},
                        headers=ADMIN,
                    )
                    assert resp.status_code == 201, resp.text
                    ids.append(resp.json()["id"])

                first = gw.post(
                    f"/api/v1/inspections/{ids[0]}/feedback", json={"correct": True}, headers=ADMIN
                )
                assert first.status_code == 201, first.text
                wrong = {
                    "correct": False,
                    "corrected_verdict": "NOK",
                    "corrected_counts": {"wrench": 1, "tape": 1},
                    "notes": "screwdriver is a pen",
                }
                assert (
                    gw.post(f"/api/v1/inspections/{ids[1]}/feedback", json=wrong, headers=ADMIN).status_code
                    == 201
                )
                changed = gw.post(
                    f"/api/v1/inspections/{ids[1]}/feedback", json={"correct": True}, headers=ADMIN
                )
                assert changed.status_code == 200
                body = gw.get(f"/api/v1/inspections/{ids[1]}/feedback", headers=ADMIN).json()
                assert body["correct"] is True and body["revision"] == 2
                assert [h["content"]["correct"] for h in body["history"]] == [False, True]
                assert body["history"][0]["content"]["notes"] == "screwdriver is a pen"

                boxes = {
                    "correct": False,
                    "corrected_verdict": "OK",
                    "corrected_boxes": [{"label": "screwdriver", "x1": 10, "y1": 10, "x2": 40, "y2": 120}],
                }
                assert (
                    gw.post(f"/api/v1/inspections/{ids[2]}/feedback", json=boxes, headers=ADMIN).status_code
                    == 201
                )

                # corrections are checked
                bad_label = {**wrong, "corrected_counts": {"hammer": 1}}
                resp = gw.post(f"/api/v1/inspections/{ids[0]}/feedback", json=bad_label, headers=ADMIN)
                assert resp.status_code == 422 and "hammer" in resp.json()["detail"]
                outside = {
                    **boxes,
                    "corrected_boxes": [{"label": "tape", "x1": 300, "y1": 10, "x2": 400, "y2": 50}],
                }
                assert (
                    gw.post(f"/api/v1/inspections/{ids[0]}/feedback", json=outside, headers=ADMIN).status_code
                    == 422
                )
                both = {"correct": True, "corrected_verdict": "OK"}
                assert (
                    gw.post(f"/api/v1/inspections/{ids[0]}/feedback", json=both, headers=ADMIN).status_code
                    == 422
                )
                nothing = {"correct": False, "corrected_verdict": "OK"}
                assert (
                    gw.post(f"/api/v1/inspections/{ids[0]}/feedback", json=nothing, headers=ADMIN).status_code
                    == 422
                )
                missing = "00000000-0000-0000-0000-000000000000"
                assert (
                    gw.post(
                        f"/api/v1/inspections/{missing}/feedback", json={"correct": True}, headers=ADMIN
                    ).status_code
                    == 404
                )

                with_fb = gw.get("/api/v1/inspections", params={"has_feedback": True}, headers=ADMIN).json()
                assert with_fb["total"] == 3
                stats = gw.get(f"/api/v1/stations/{sid}/stats", headers=ADMIN).json()
                assert stats["inspections"] == 3 and stats["pending"] == 0
                assert stats["ok"] + stats["nok"] == 3
                [v1] = stats["per_model_version"]
                assert (v1["model_version"], v1["with_feedback"], v1["correct"]) == (1, 3, 2)
                assert v1["accuracy"] == round(2 / 3, 4)
                assert sum(d["ok"] + d["nok"] for d in stats["per_day"]) == 3


def test_a_station_that_blurs_people_stores_them_blurred_or_not_at_all(env):
    # The person detector is a registry model served by the inference service. No person model can be
    # made offline here, so the small tool detector stands in, with its `wrench` as the label to blur:
    # the gateway's path (ask the detector, blur its boxes, store only the blurred photo) is the same.
    inference_port = free_port()
    env.setenv("LINESIGHT_INFERENCE_URL", f"http://127.0.0.1:{inference_port}")
    env.setenv("LINESIGHT_PEOPLE_DETECTOR_MODEL", "bench")
    env.setenv("LINESIGHT_PEOPLE_DETECTOR_LABEL", "wrench")
    with serve(create_registry(RegistrySettings())) as registry_url:
        env.setenv("LINESIGHT_REGISTRY_URL", registry_url)
        with TestClient(create_gateway(GatewaySettings())) as gw:
            sid = setup_station(gw)
            patched = gw.patch(f"/api/v1/stations/{sid}", json={"blur_people": True}, headers=ADMIN)
            assert patched.status_code == 200, patched.text
            assert patched.json()["blur_people"] is True
            photo, placed = draw_scene(random.Random(11), present=[0, 1, 2])
            sent = jpeg(photo)
            wrench = next(p.box for p in placed if CLASSES[p.cls] == "wrench")
            others = [p.box for p in placed if CLASSES[p.cls] != "wrench"]

            with serve(create_inference(InferenceSettings()), port=inference_port):
                shot = gw.post(
                    "/api/v1/inspections",
                    data={"station_id": sid},
                    files={"image": ("a.jpg", sent)},
                    headers=ADMIN,
                )
                assert shot.status_code == 201, shot.text
            assert shot.json()["image"]["people_blurred"] == 1
            kept = gw.get(f"/api/v1/inspections/{shot.json()['id']}/image", headers=ADMIN).content
            before = np.asarray(Image.open(io.BytesIO(sent)).convert("RGB"))
            after = np.asarray(Image.open(io.BytesIO(kept)).convert("RGB"))

            def sharpness(rgb, box):
                x1, y1, x2, y2 = box
                gray = cv2.cvtColor(np.ascontiguousarray(rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
                return cv2.Laplacian(gray, cv2.CV_64F).var()

            assert sharpness(after, wrench) < sharpness(before, wrench) / 5
            for x1, y1, x2, y2 in others:  # the rest of the photo, re-encoded, as it was
                diff = np.abs(before[y1:y2, x1:x2].astype(int) - after[y1:y2, x1:x2].astype(int))
                assert diff.mean() < 3

            # Detector down: the photo is refused, and nothing of it is stored.
            total = gw.get("/api/v1/inspections", headers=ADMIN).json()["total"]
            refused = gw.post(
                "/api/v1/inspections",
                data={"station_id": sid},
                files={"image": ("b.jpg", sent)},
                headers=ADMIN,
            )
            assert refused.status_code == 503, refused.text
            assert "not stored" in refused.json()["detail"]
            assert gw.get("/api/v1/inspections", headers=ADMIN).json()["total"] == total
            settings = GatewaySettings()
            store = ObjectStore.from_settings(settings)
            stored = list(
                store.client.list_objects(settings.bucket("images"), "inspections/", recursive=True)
            )
            assert len(stored) == 1
