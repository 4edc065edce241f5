"""Segment models in the registry: an Ultralytics-shaped segment ONNX (boxes with mask coefficients, and
mask prototypes) is stored with its metadata; a detect model offered as a segment model, or the reverse,
is refused with a 422 that says why, and nothing is stored."""

import io
import zipfile
from pathlib import Path

import onnx
import pytest
from fastapi.testclient import TestClient

from linesight_registry.main import create_app as create_registry
from linesight_registry.settings import RegistrySettings
from tests.support.onnx_models import yolo_onnx

pytestmark = pytest.mark.integration

TOKEN = "segment-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(fresh_service_env, monkeypatch):
    for key, value in {**fresh_service_env, "LINESIGHT_SERVICE_TOKEN": TOKEN}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    with TestClient(create_registry(RegistrySettings())) as c:
        yield c


def upload(client, path: Path, name: str, **form):
    with open(path, "rb") as fh:
        return client.post(
            f"/v1/models/{name}/versions", files={"file": ("m.onnx", fh)}, data=form, headers=AUTH
        )


def with_task(src: Path, dst: Path, task: str) -> Path:
    """The same file with its metadata's task rewritten: a file whose metadata lies about its outputs."""
    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == "task":
            prop.value = task
    onnx.save(model, str(dst))
    return dst


def refused(resp, needle: str) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["type"] == "https://linesight.dev/problems/invalid-model", body
    assert needle in body["detail"], body


def test_a_segment_model_is_stored_with_its_metadata(client, tmp_path):
    assert (
        client.post("/v1/models", json={"name": "cracks", "task": "segment"}, headers=AUTH).status_code == 201
    )
    resp = upload(client, yolo_onnx(tmp_path / "seg.onnx", task="segment", names="{0: 'crack'}"), "cracks")
    assert resp.status_code == 201, resp.text
    version = resp.json()
    assert version["task"] == "segment"
    assert version["class_names"] == {"0": "crack"}
    assert version["imgsz"] == [160, 160]
    assert version["stride"] == 32 and version["dynamic_batch"] is True
    listed = client.get("/v1/models", params={"task": "segment"}, headers=AUTH).json()
    assert [m["name"] for m in listed["items"]] == ["cracks"]
    resolved = client.get("/v1/models/cracks/versions/1", headers=AUTH).json()
    assert resolved["task"] == "segment"


def test_detect_and_segment_files_are_not_taken_for_each_other(client, tmp_path):
    for name, task in (("cracks", "segment"), ("tools", "detect")):
        assert client.post("/v1/models", json={"name": name, "task": task}, headers=AUTH).status_code == 201
    detect = yolo_onnx(tmp_path / "det.onnx", task="detect")
    segment = yolo_onnx(tmp_path / "seg.onnx", task="segment")

    # a detect file under a segment model, and the reverse: the model's task decides
    resp = upload(client, detect, "cracks")
    assert (
        resp.status_code == 422 and "is a segment model; the file is a detect model" in resp.json()["detail"]
    )
    resp = upload(client, segment, "tools")
    assert (
        resp.status_code == 422 and "is a detect model; the file is a segment model" in resp.json()["detail"]
    )
    # the uploader's claim is checked against the file
    refused(upload(client, detect, "cracks", task="segment"), "says task='segment' but the model is a detect")
    refused(upload(client, segment, "tools", task="detect"), "says task='detect' but the model is a segment")
    # metadata that lies about the outputs
    refused(
        upload(client, with_task(detect, tmp_path / "lie-seg.onnx", "segment"), "cracks"),
        "A detect model cannot be uploaded as a segment model",
    )
    refused(
        upload(client, with_task(segment, tmp_path / "lie-det.onnx", "detect"), "tools"),
        "which is a segment model, but its metadata says task='detect'",
    )
    for name in ("cracks", "tools"):
        assert client.get(f"/v1/models/{name}/versions", headers=AUTH).json()["total"] == 0


def test_segment_output_rows_must_match_the_classes(client, tmp_path):
    assert (
        client.post("/v1/models", json={"name": "cracks", "task": "segment"}, headers=AUTH).status_code == 201
    )
    # the file has 4 + 1 + 32 rows, but its metadata names two classes
    lying = yolo_onnx(tmp_path / "seg2.onnx", task="segment", names="{0: 'crack', 1: 'spot'}")
    refused(upload(client, lying, "cracks"), "with 2 classes and 32 mask prototypes it should have 38")


def test_a_segment_checkpoint_is_queued_for_conversion(client):
    """The file is stored as it came and a convert run of the segment model queued; only the worker's
    sandbox opens it."""
    shaped = io.BytesIO()  # shaped like a torch.save file: a zip with a data.pkl
    with zipfile.ZipFile(shaped, "w") as zf:
        zf.writestr("m/data.pkl", b"never opened")
    assert (
        client.post("/v1/models", json={"name": "cracks", "task": "segment"}, headers=AUTH).status_code == 201
    )
    resp = client.post(
        "/v1/models/cracks/versions/from-pt", files={"file": ("m.pt", shaped.getvalue())}, headers=AUTH
    )
    assert resp.status_code == 201, resp.text
    run = resp.json()
    assert (run["kind"], run["task"], run["status"]) == ("convert", "segment", "queued")
    assert run["selection_metric"] == "mask_mAP50-95"
    assert client.post(f"/v1/training-runs/{run['id']}/cancel", headers=AUTH).status_code == 200
