"""Attacks on the gateway's smaller holes, each shown to fail now: station deletion that would lose
history, photos gone from storage, /ready details for anyone, presigned store links, photo metadata
(GPS) kept, viewers taking model weights and dataset exports, and feedback toggled to trigger runs."""

import asyncio
import io
import os
import tempfile
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import update

from linesight_core.clients.registry import RegistryClient
from linesight_gateway.db.models import AuditEvent, Inspection
from linesight_gateway.domain.dataset_sync import DatasetSync
from linesight_gateway.domain.run_limits import RunLimits
from linesight_gateway.main import create_app as create_gateway
from linesight_gateway.settings import GatewaySettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.integration.conftest import ADMIN_KEY, SERVICE_TOKEN, service_database
from tests.support.servers import free_port, private_broker, serve
from tests.support.synthetic import CLASSES, draw_scene
from tests.support.yolo_models import detect_model

pytestmark = pytest.mark.integration
ADMIN = {"X-API-Key": ADMIN_KEY}
GPS_IFD = 0x8825


@pytest.fixture(scope="module")
def gw(postgres_url, redis_url, s3_env):
    """One gateway and registry for the module (each test uses names of its own): no inference service,
    so inspections stay pending at once (a closed port), which is all these tests need."""
    settings = {
        "LINESIGHT_SERVICE_TOKEN": SERVICE_TOKEN,
        "LINESIGHT_ADMIN_API_KEY": ADMIN_KEY,
        "LINESIGHT_LOG_FORMAT": "console",
        "LINESIGHT_INFERENCE_URL": f"http://127.0.0.1:{free_port()}",
        "LINESIGHT_HTTP_RETRIES": "0",
        "LINESIGHT_DATASET_SYNC_INTERVAL_SECONDS": "3600",  # the tests drive the sync
        "LINESIGHT_TRAINING_RUNS_PER_STATION_PER_HOUR": "1",
        "LINESIGHT_TRAINING_RUNS_PER_HOUR": "2",
        "LINESIGHT_CELERY_BROKER_URL": private_broker(redis_url, "gateway-hardening"),
    }
    with service_database(postgres_url, redis_url, s3_env) as base, pytest.MonkeyPatch.context() as mp:
        env = {**base, **settings}
        for key, value in env.items():
            mp.setenv(key, value)
        with serve(create_registry(RegistrySettings())) as registry_url:
            mp.setenv("LINESIGHT_REGISTRY_URL", registry_url)
            with TestClient(create_gateway(GatewaySettings())) as client:
                client.keys = {}
                for role in ("viewer", "operator", "engineer"):
                    resp = client.post(
                        "/api/v1/api-keys", json={"name": f"{role}-key", "role": role}, headers=ADMIN
                    )
                    client.keys[role] = {"X-API-Key": resp.json()["key"]}
                yield client


def gps_jpeg(seed: int = 1) -> bytes:
    import random

    img, _ = draw_scene(random.Random(seed), present=[0, 1])
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    exif[0x0112] = 1
    exif[GPS_IFD] = {1: "N", 2: (48.0, 8.0, 30.0), 3: "E", 4: (11.0, 34.0, 5.0)}
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    data = buf.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD)  # the attack photo carries GPS
    return data


def assert_no_metadata(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        exif = img.getexif()
        assert not exif.get_ifd(GPS_IFD), "GPS survived"
        assert set(exif) <= {0x0112}, f"EXIF tags survived: {dict(exif)}"
    assert b"SpyCam" not in data


def setup_station(gw, name: str, **training) -> dict:
    """Station `name` judged by model `hb` (registered by the first test that needs it)."""
    if gw.get("/api/v1/models/hb", headers=ADMIN).status_code == 404:
        assert gw.post("/api/v1/models", json={"name": "hb", "task": "detect"}, headers=ADMIN).is_success
        with open(detect_model(), "rb") as fh:
            up = gw.post("/api/v1/models/hb/versions", files={"file": ("m.onnx", fh)}, headers=ADMIN)
        assert up.is_success, up.text
        gw.put("/api/v1/models/hb/aliases/production", json={"version": 1}, headers=ADMIN)
    body = {
        "name": name,
        "mode": "detect",
        "model_name": "hb",
        "expected_items": [{"label": CLASSES[0], "min_count": 1}],
    }
    if training:
        body["training"] = training
    resp = gw.post("/api/v1/stations", json=body, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()


def inspect(gw, station_id: str, data: bytes) -> str:
    resp = gw.post(
        "/api/v1/inspections",
        data={"station_id": station_id},
        files={"image": ("a.jpg", data)},
        headers=ADMIN,
    )
    assert resp.status_code == 202, resp.text  # kept pending: there is no inference service here
    return resp.json()["id"]


def complete(gw, inspection_id: str) -> None:
    """The model's answer, as the reprocessor would store it once inference is back."""
    with gw.app.state.session_factory() as session, session.begin():
        session.execute(
            update(Inspection)
            .where(Inspection.id == inspection_id)
            .values(status="completed", model_version=1, predictions=[], verdict="NOK")
        )


def test_station_photos_and_ready_leak_nothing(gw):
    # /ready on the published port: which dependency is ok, no host names or errors without the token.
    store, bucket = gw.app.state.store, gw.app.state.settings.bucket("images")
    # The first test of the module, so the bucket is still empty: take it away, the check fails.
    store.client.remove_bucket(bucket)
    anon = gw.get("/ready")
    assert anon.status_code == 503
    assert anon.json()["failed"] == ["object_store"]
    assert anon.json()["checks"]["object_store"] == {"ok": False}
    assert bucket not in anon.text and "127.0.0.1" not in anon.text
    inside = gw.get("/ready", headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert bucket in inside.json()["checks"]["object_store"]["error"]
    assert "127.0.0.1" not in gw.get("/metrics").text
    store.ensure_buckets(bucket)

    station = setup_station(gw, "hb-photos")
    sid = station["id"]
    photo = gps_jpeg()
    iid = inspect(gw, sid, photo)

    # EXIF with GPS is gone from the stored inspection photo and the stored reference photo.
    stored = gw.get(f"/api/v1/inspections/{iid}/image", headers=ADMIN)
    assert stored.status_code == 200
    assert_no_metadata(stored.content)
    assert Image.open(io.BytesIO(stored.content)).size == Image.open(io.BytesIO(photo)).size
    put = gw.put(f"/api/v1/stations/{sid}/reference-image", files={"image": ("r.jpg", photo)}, headers=ADMIN)
    assert put.status_code == 200, put.text
    ref = gw.get(f"/api/v1/stations/{sid}/reference-image", headers=ADMIN)
    assert ref.status_code == 200
    assert_no_metadata(ref.content)

    # A station with inspections is not deleted: 409 says how many and what to do instead.
    resp = gw.delete(f"/api/v1/stations/{sid}", headers=ADMIN)
    assert resp.status_code == 409, resp.text
    body = resp.json()
    assert body["inspections"] == 1 and "1 inspection" in body["detail"] and "active" in body["detail"]
    assert gw.get(f"/api/v1/stations/{sid}", headers=ADMIN).status_code == 200

    # Photos gone from storage: 404 problem+json, not 500.
    store, bucket = gw.app.state.store, gw.app.state.settings.bucket("images")
    with gw.app.state.session_factory() as session:
        image_key = session.get(Inspection, iid).image_key
    store.delete(bucket, image_key)
    for path in (f"/api/v1/inspections/{iid}/image", f"/api/v1/inspections/{iid}/annotated"):
        resp = gw.get(path, headers=ADMIN)
        assert resp.status_code == 404, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert "gone from object storage" in resp.json()["detail"]
    ref_key = next(o.object_name for o in store.client.list_objects(bucket, prefix=f"stations/{sid}/"))
    store.delete(bucket, ref_key)
    resp = gw.get(f"/api/v1/stations/{sid}/reference-image", headers=ADMIN)
    assert resp.status_code == 404 and "gone from object storage" in resp.json()["detail"]


def test_model_artifacts_and_exports_need_engineer_and_stream(gw, monkeypatch, tmp_path):
    setup_station(gw, "hb-roles")
    viewer, engineer = gw.keys["viewer"], gw.keys["engineer"]

    # ONNX: viewers are refused; engineers get the file through the gateway, never a store link.
    assert gw.get("/api/v1/models/hb/versions/1/download", headers=viewer).status_code == 403
    resp = gw.get("/api/v1/models/hb/versions/1/download", headers=engineer)
    assert resp.status_code == 200, resp.text
    assert resp.content == detect_model().read_bytes()
    assert b"X-Amz-Credential" not in resp.content and "X-Amz" not in str(resp.headers)
    # .pt weights: one rule with ONNX. A viewer asking for best.pt gets nothing either way.
    run = "00000000-0000-4000-8000-000000000001"
    assert gw.get(f"/api/v1/training-runs/{run}/weights/best.pt", headers=viewer).status_code == 403
    resp = gw.get(f"/api/v1/training-runs/{run}/artifacts/best.pt", headers=viewer)
    assert resp.status_code == 404 and "weights" in resp.json()["detail"]

    # A dataset export: engineers only, built once into the datasets bucket, no temp file.
    created = gw.post(
        "/api/v1/datasets",
        json={"name": "exp", "task": "detect", "class_names": CLASSES},
        headers=engineer,
    )
    assert created.status_code == 201, created.text
    for seed in range(3):
        added = gw.post(
            "/api/v1/datasets/exp/items",
            files={"file": ("a.jpg", gps_jpeg(seed))},
            data={"labels": "0 0.5 0.5 0.2 0.2"},
            headers=engineer,
        )
        assert added.status_code == 201, added.text
    assert gw.post("/api/v1/datasets/exp/versions", json={}, headers=engineer).status_code == 201
    assert gw.get("/api/v1/datasets/exp/versions/1/export", headers=viewer).status_code == 403
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the registry would spool a zip
    first = gw.get("/api/v1/datasets/exp/versions/1/export", headers=engineer)
    assert first.status_code == 200 and first.headers["content-type"] == "application/zip"
    assert not os.listdir(tmp_path)
    store = gw.app.state.store
    datasets_bucket = gw.app.state.settings.bucket("datasets")
    cached = [o.object_name for o in store.client.list_objects(datasets_bucket, prefix="exports/")]
    assert len(cached) == 1
    assert store.get_bytes(datasets_bucket, cached[0]) == first.content
    # Later exports stream the stored zip, not a new build: what the bucket holds is what is sent.
    store.put_bytes(datasets_bucket, cached[0], b"PK the stored export", content_type="application/zip")
    again = gw.get("/api/v1/datasets/exp/versions/1/export", headers=engineer)
    assert again.content == b"PK the stored export"


def sync_round(gw, limits: RunLimits) -> None:
    async def once() -> None:
        registry = RegistryClient.create(
            gw.app.state.settings.registry_url, service_token=SERVICE_TOKEN, timeout=30.0, retries=0
        )
        try:
            sync = DatasetSync(
                gw.app.state.session_factory,
                gw.app.state.store,
                gw.app.state.settings.bucket("images"),
                registry,
                limits,
            )
            await sync.run_once(32)
        finally:
            await registry.aclose()

    asyncio.run(once())


def test_toggled_feedback_counts_once_and_runs_are_limited(gw):
    station = setup_station(gw, "hb-loop", retrain_after=2, auto_train=True, epochs=1, imgsz=160)
    sid = station["id"]
    limits = RunLimits(per_station_per_hour=1, per_hour=2)
    operator = gw.keys["operator"]
    first, second = inspect(gw, sid, gps_jpeg(1)), inspect(gw, sid, gps_jpeg(2))
    complete(gw, first)
    complete(gw, second)
    box = {"label": CLASSES[0], "x1": 10, "y1": 10, "x2": 60, "y2": 60}

    def feedback(iid: str, on: bool) -> None:
        body = {
            "correct": False,
            "corrected_verdict": "NOK",
            "corrected_boxes": [box],
            "use_for_training": on,
        }
        resp = gw.post(f"/api/v1/inspections/{iid}/feedback", json=body, headers=operator)
        assert resp.status_code in (200, 201), resp.text
        sync_round(gw, limits)

    # The attack: one inspection toggled on, off, on, off, on. It counts once; no version is cut.
    for on in (True, False, True, False, True):
        feedback(first, on)
    state = gw.get(f"/api/v1/stations/{sid}", headers=ADMIN).json()["training_state"]
    assert state["feedback_since_version"] == 1
    assert state["last_feedback_by"]["name"] == "operator-key"
    assert gw.get("/api/v1/datasets/hb-loop/versions", headers=ADMIN).json()["total"] == 0

    # A run of this station started 10 minutes ago: the station's limit (1 per hour) is reached, so the
    # policy defers (the version is not cut, the count is kept) and the station says why.
    with gw.app.state.session_factory() as session, session.begin():
        session.add(
            AuditEvent(
                actor_name="earlier",
                action="training_run.create",
                object_type="training_run",
                object_id="earlier-run",
                details={"station_id": sid},
                at=datetime.now(UTC) - timedelta(minutes=10),
            )
        )
    feedback(second, True)
    state = gw.get(f"/api/v1/stations/{sid}", headers=ADMIN).json()["training_state"]
    assert state["feedback_since_version"] == 2
    assert "limit is 1 per hour" in state["training_deferred"]["reason"]
    assert gw.get("/api/v1/datasets/hb-loop/versions", headers=ADMIN).json()["total"] == 0

    # Engineers share the overall limit (2 per hour): one more run in all, and the next is refused.
    with gw.app.state.session_factory() as session, session.begin():
        session.add(
            AuditEvent(
                actor_name="earlier",
                action="training_run.create",
                object_type="training_run",
                object_id="other-run",
                details={},
            )
        )
    run = {
        "dataset": "hb-loop",
        "dataset_version": 1,
        "model_name": "hb",
        "epochs": 1,
        "architecture": "yolov8n.yaml",
    }
    resp = gw.post("/api/v1/training-runs", json=run, headers=gw.keys["engineer"])
    assert resp.status_code == 429, resp.text
    assert "limit is 2 per hour" in resp.json()["detail"] and int(resp.headers["Retry-After"]) > 0

    # The hour passes: the deferred version is cut by the next round, put down to the operator.
    with gw.app.state.session_factory() as session, session.begin():
        session.execute(update(AuditEvent).values(at=datetime.now(UTC) - timedelta(hours=2)))
    sync_round(gw, limits)
    state = gw.get(f"/api/v1/stations/{sid}", headers=ADMIN).json()["training_state"]
    assert "training_deferred" not in state and state["last_version"] == 1
    audit = gw.get("/api/v1/audit", params={"action": "dataset.version.auto"}, headers=ADMIN).json()
    details = audit["items"][0]["details"]
    assert details["triggered_by"]["name"] == "operator-key"
    assert details["feedback_by"] == ["operator-key"]
