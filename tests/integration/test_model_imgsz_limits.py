"""ONNX models whose metadata lies about their image size (imgsz): the registry refuses the upload with a
422 that names the problem, and inference refuses, without allocating, a lying version that is already
stored (one uploaded before the check, or edited in the database), and keeps serving the others."""

import io
import json
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.engine import make_url

from linesight_inference.main import create_app as create_inference
from linesight_inference.settings import InferenceSettings
from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.support.onnx_models import yolo_onnx
from tests.support.servers import serve
from tests.support.services import RegistryAdmin

pytestmark = pytest.mark.integration

TOKEN = "imgsz-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def registry_env(fresh_service_env, monkeypatch):
    for key, value in {**fresh_service_env, "LINESIGHT_SERVICE_TOKEN": TOKEN}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    return fresh_service_env


def upload(client, path: Path, name: str):
    with open(path, "rb") as fh:
        return client.post(f"/v1/models/{name}/versions", files={"file": ("m.onnx", fh)}, headers=AUTH)


def test_uploads_with_a_lying_imgsz_are_refused_with_the_reason(registry_env, tmp_path):
    cases = [
        ({"imgsz": "[30000, 30000]"}, "over the limit of 2048"),
        ({"imgsz": "30000", "height": "h", "width": "w"}, "over the limit of 2048"),  # dynamic input
        ({"imgsz": "[640, 640]", "height": 160, "width": 160}, "fixed input height 160"),
        ({"imgsz": "[160, 320]", "height": 160, "width": 160}, "fixed input width 160"),
        ({"imgsz": "[-160, 160]"}, "must be positive"),
        ({"imgsz": "0"}, "must be positive"),
        ({"imgsz": "'large'"}, "whole number"),
        ({"imgsz": "[160.5, 160]"}, "whole number"),
        ({"imgsz": "[True, True]"}, "whole number"),
        ({"imgsz": "[160, 160, 3]"}, "whole number"),
        ({"imgsz": "[170, 170]"}, "multiple of its stride 32"),
        ({"imgsz": None}, "no image size"),  # dynamic input and no imgsz
        ({"imgsz": None, "height": 30016, "width": 30016}, "over the limit of 2048"),  # fixed and huge
        ({"imgsz": "[" * 300 + "]" * 300}, "whole number"),  # deeply nested
        ({"names": "{'a': 'part'}"}, "keyed by class number"),
    ]
    with TestClient(create_registry(RegistrySettings())) as client:
        assert (
            client.post("/v1/models", json={"name": "m", "task": "detect"}, headers=AUTH).status_code == 201
        )
        for i, (fields, needle) in enumerate(cases):
            resp = upload(client, yolo_onnx(tmp_path / f"{i}.onnx", **fields), "m")
            assert resp.status_code == 422, (fields, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert needle in resp.json()["detail"], (fields, resp.json())
        assert client.get("/v1/models/m/versions", headers=AUTH).json()["total"] == 0

        # what Ultralytics exports is still accepted: a fixed 160x160 input, or a dynamic one at 640
        fixed = upload(client, yolo_onnx(tmp_path / "fixed.onnx", height=160, width=160), "m")
        assert fixed.status_code == 201, fixed.text
        assert fixed.json()["imgsz"] == [160, 160]
        dynamic = upload(client, yolo_onnx(tmp_path / "dyn.onnx", imgsz="640"), "m")
        assert dynamic.status_code == 201 and dynamic.json()["imgsz"] == [640, 640]


def peak_rss_reset() -> int:
    """Reset this process's peak RSS (VmHWM) to its current RSS and return that, in bytes."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmHWM") * 1024


def peak_rss() -> int:
    return _status_kib("VmHWM") * 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/self/status")


def test_inference_refuses_a_stored_lying_version_without_allocating_it(registry_env, tmp_path):
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 100, 50)).save(photo, format="PNG")
    with serve(create_registry(RegistrySettings())) as registry_url:
        admin = RegistryAdmin(registry_url, TOKEN)
        for name, fields in (
            ("huge", {}),
            ("mismatch", {"height": 160, "width": 160}),
            ("good", {"imgsz": "[64, 64]"}),
        ):
            admin.create_model(name, "detect")
            admin.upload(name, yolo_onnx(tmp_path / f"{name}.onnx", **fields))
            admin.move(name, "production", 1)
        admin.close()
        # Versions stored before the registry checked imgsz: edited where they live.
        db = make_url(registry_env["LINESIGHT_DATABASE_URL"]).set(drivername="postgresql")
        with psycopg.connect(db.render_as_string(hide_password=False), autocommit=True) as conn:
            for name, imgsz in (("huge", [2048, 2048]), ("mismatch", [1024, 1024])):
                conn.execute(
                    "UPDATE registry.model_versions SET imgsz = %s::jsonb WHERE model_id = "
                    "(SELECT id FROM registry.models WHERE name = %s)",
                    (json.dumps(imgsz), name),
                )
        settings = InferenceSettings(
            registry_url=registry_url,
            model_cache_dir=tmp_path / "models",
            max_batch_size=1,
            max_model_imgsz=1024,
        )
        with TestClient(create_inference(settings)) as inference:
            inference.headers.update(AUTH)

            def predict(model: str):
                return inference.post(
                    "/v1/predict", data={"model": model}, files={"image": ("p.png", photo.getvalue())}
                )

            assert predict("good").status_code == 200  # the service, its imports and one model are warm
            before = peak_rss_reset()
            huge = predict("huge")
            # warming this model up at 2048x2048 took over 1 GiB (17 GiB at 8192x8192); a refusal, nothing
            assert peak_rss() - before < 200 * 1024 * 1024
            assert huge.status_code == 502, huge.text
            assert "over the limit of 1024" in huge.json()["detail"]
            mismatch = predict("mismatch")
            assert mismatch.status_code == 502, mismatch.text
            assert "fixed input height 160" in mismatch.json()["detail"]
            assert predict("good").status_code == 200  # still serving
            loaded = {m["model_name"] for m in inference.get("/v1/models").json()}
            assert loaded == {"good"}
