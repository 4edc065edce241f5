"""The registry on real Postgres, S3 store and Redis: upload, idempotency, validation, aliases with
history and rollback, events, compare, download."""

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import onnx
import pytest
from fastapi.testclient import TestClient
from onnx import TensorProto, helper

from linesight_core.events import MODEL_PROMOTED, make_redis
from linesight_core.storage import ObjectStore
from linesight_registry.main import create_app
from linesight_registry.settings import RegistrySettings
from tests.support.yolo_models import classify_model, detect_model

TOKEN = "registry-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def variant(src, tmp_path, tag: str):
    """The same model with one metadata field changed: different bytes, same graph."""
    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == "date":
            prop.value = f"variant-{tag}"
    out = tmp_path / f"variant-{tag}.onnx"
    onnx.save(model, str(out))
    return out


@pytest.fixture(scope="module")
def detect_onnx():
    return detect_model()


@pytest.fixture(scope="module")
def classify_onnx():
    return classify_model()


@pytest.fixture
def registry(fresh_service_env, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    settings = RegistrySettings()
    with TestClient(create_app(settings)) as client:
        client.headers.update(AUTH)
        client.settings = settings
        client.store = ObjectStore.from_settings(settings)
        yield client


def upload(client, path, name="bench", **fields):
    with open(path, "rb") as fh:
        return client.post(f"/v1/models/{name}/versions", files={"file": ("m.onnx", fh)}, data=fields)


def bucket_keys(client):
    bucket = client.settings.bucket("models")
    return sorted(o.object_name for o in client.store.client.list_objects(bucket, recursive=True))


def test_internal_api_needs_the_service_token(registry):
    assert registry.get("/v1/models", headers={"Authorization": ""}).status_code == 401
    assert registry.get("/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 403


def test_upload_reads_metadata_and_is_idempotent(registry, detect_onnx):
    assert registry.post("/v1/models", json={"name": "bench", "task": "detect"}).status_code == 201
    first = upload(registry, detect_onnx, metrics=json.dumps({"mAP50": 0.61}), created_by="ci")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["version"] == 1
    assert body["task"] == "detect"
    assert body["imgsz"] == [160, 160]
    assert body["class_names"] == {"0": "wrench", "1": "screwdriver", "2": "tape"}
    assert body["dynamic_batch"] is True
    assert body["stride"] == 32
    data = detect_onnx.read_bytes()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size_bytes"] == len(data)
    stored = registry.store.get_bytes(body["artifact_bucket"], body["artifact_key"])
    assert hashlib.sha256(stored).hexdigest() == body["sha256"]

    again = upload(registry, detect_onnx)
    assert again.status_code == 200
    assert again.json()["version"] == 1
    assert registry.get("/v1/models/bench/versions").json()["total"] == 1


def test_bad_uploads_are_refused_and_nothing_is_stored(registry, detect_onnx, classify_onnx, tmp_path):
    registry.post("/v1/models", json={"name": "bench", "task": "detect"})
    before = bucket_keys(registry)

    wrong_task = upload(registry, classify_onnx)
    assert wrong_task.status_code == 422
    assert "classify" in wrong_task.json()["detail"]

    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x07 this is not protobuf at all" * 10)
    not_onnx = upload(registry, garbage)
    assert not_onnx.status_code == 422
    assert "not a valid ONNX model" in not_onnx.json()["detail"]

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
    )
    plain = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(plain))
    not_yolo = upload(registry, plain)
    assert not_yolo.status_code == 422
    assert "[batch, 3, height, width]" in not_yolo.json()["detail"]

    wrong_names = upload(registry, detect_onnx, class_names=json.dumps(["a", "b", "c"]))
    assert wrong_names.status_code == 422
    assert "class names" in wrong_names.json()["detail"]

    wrong_size = upload(registry, detect_onnx, imgsz="[640, 640]")
    assert wrong_size.status_code == 422

    bad_json = upload(registry, detect_onnx, metrics="{not json")
    assert bad_json.status_code == 422

    unknown = upload(registry, detect_onnx, name="no-such-model")
    assert unknown.status_code == 404

    assert bucket_keys(registry) == before
    assert registry.get("/v1/models/bench/versions").json()["total"] == 0


def test_oversized_upload_is_413(fresh_service_env, monkeypatch, detect_onnx):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("LINESIGHT_MAX_ARTIFACT_BYTES", "1000")
    with TestClient(create_app(RegistrySettings())) as client:
        client.headers.update(AUTH)
        client.post("/v1/models", json={"name": "bench", "task": "detect"})
        resp = upload(client, detect_onnx)
        assert resp.status_code == 413
        assert "1000 bytes" in resp.json()["detail"]


def test_aliases_history_rollback_and_events(registry, detect_onnx, tmp_path):
    registry.post("/v1/models", json={"name": "bench", "task": "detect"})
    upload(
        registry,
        detect_onnx,
        metrics=json.dumps({"mAP50": 0.5, "val_loss": 1.2}),
        params=json.dumps({"epochs": 10}),
    )
    upload(
        registry,
        variant(detect_onnx, tmp_path, "b"),
        metrics=json.dumps({"mAP50": 0.7, "val_loss": 0.9}),
        params=json.dumps({"epochs": 30}),
    )

    none_yet = registry.get("/v1/models/bench/resolve")
    assert none_yet.status_code == 404
    assert "production" in none_yet.json()["detail"]

    redis = make_redis(registry.settings.redis_url)
    pubsub = redis.pubsub()
    pubsub.subscribe(MODEL_PROMOTED)
    pubsub.get_message(timeout=2)  # subscription confirmation

    moves = [(1, "first release"), (2, "better mAP50"), (1, "rollback: false rejects on line 3")]
    for version, reason in moves:
        resp = registry.put(
            "/v1/models/bench/aliases/production",
            json={"version": version, "reason": reason},
            headers={"X-LineSight-Actor": "anna"},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["version"] == version

    events = []
    for _ in range(20):
        msg = pubsub.get_message(timeout=1)
        if msg and msg["type"] == "message":
            events.append(json.loads(msg["data"]))
        if len(events) == 3:
            break
    pubsub.close()
    assert [(e["from_version"], e["version"]) for e in events] == [(None, 1), (1, 2), (2, 1)]
    assert all(e["model_name"] == "bench" and e["alias"] == "production" for e in events)

    history = registry.get("/v1/models/bench/alias-history", params={"alias": "production"}).json()
    assert [(h["from_version"], h["to_version"]) for h in history["items"]] == [(2, 1), (1, 2), (None, 1)]
    assert history["items"][0]["moved_by"] == "anna"
    assert history["items"][0]["reason"].startswith("rollback")

    resolved = registry.get("/v1/models/bench/resolve").json()
    assert resolved["version"] == 1
    assert "production" in resolved["aliases"]
    assert registry.get("/v1/models/bench/resolve", params={"version": 2}).json()["version"] == 2

    assert registry.put("/v1/models/bench/aliases/staging", json={"version": 2}).status_code == 200
    model = registry.get("/v1/models/bench").json()
    assert model["aliases"] == {"production": 1, "staging": 2}
    assert model["latest_version"] == 2

    assert registry.put("/v1/models/bench/aliases/production", json={"version": 9}).status_code == 404
    assert registry.put("/v1/models/bench/aliases/Bad Alias", json={"version": 1}).status_code in (404, 422)
    assert registry.delete("/v1/models/bench/aliases/production").status_code == 409
    assert registry.put("/v1/models/bench/aliases/line3-trial", json={"version": 2}).status_code == 200
    assert registry.delete("/v1/models/bench/aliases/line3-trial").status_code == 204
    assert registry.get("/v1/models/bench/aliases/line3-trial").status_code == 404

    # archiving: refused while an alias points at the version
    assert registry.patch("/v1/models/bench/versions/2", json={"status": "archived"}).status_code == 409
    registry.put("/v1/models/bench/aliases/staging", json={"version": 1})
    archived = registry.patch("/v1/models/bench/versions/2", json={"status": "archived"})
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    assert registry.put("/v1/models/bench/aliases/staging", json={"version": 2}).status_code == 409
    listed = registry.get("/v1/models/bench/versions", params={"status": "ready"}).json()
    assert [v["version"] for v in listed["items"]] == [1]


def test_compare_and_download(registry, detect_onnx, tmp_path):
    registry.post("/v1/models", json={"name": "bench", "task": "detect"})
    upload(
        registry,
        detect_onnx,
        metrics=json.dumps({"mAP50": 0.5, "val_loss": 1.2}),
        params=json.dumps({"epochs": 10, "imgsz": 160}),
    )
    upload(
        registry,
        variant(detect_onnx, tmp_path, "c"),
        metrics=json.dumps({"mAP50": 0.7, "val_loss": 1.4}),
        params=json.dumps({"epochs": 30, "imgsz": 160}),
    )
    cmp = registry.get("/v1/models/bench/compare", params={"versions": "1,2"})
    assert cmp.status_code == 200, cmp.text
    body = cmp.json()
    assert body["metrics"]["mAP50"] == {"1": 0.5, "2": 0.7}
    assert body["best"] == {"mAP50": 2, "val_loss": 1}
    assert body["params"] == {"epochs": {"1": 10, "2": 30}}
    assert body["classes_equal"] is True
    assert registry.get("/v1/models/bench/compare", params={"versions": "1"}).status_code == 422
    assert registry.get("/v1/models/bench/compare", params={"versions": "1,x"}).status_code == 422
    assert registry.get("/v1/models/bench/compare", params={"versions": "1,7"}).status_code == 404

    link = registry.get("/v1/models/bench/versions/1/download").json()
    fetched = httpx.get(link["url"], timeout=10)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == link["sha256"]


def test_concurrent_uploads_get_distinct_numbers(registry, detect_onnx, tmp_path):
    registry.post("/v1/models", json={"name": "bench", "task": "detect"})
    files = [variant(detect_onnx, tmp_path, f"p{i}") for i in range(4)]
    lock = threading.Lock()
    codes = []

    def one(path):
        resp = upload(registry, path)
        with lock:
            codes.append(resp.status_code)
        return resp.json()["version"]

    with ThreadPoolExecutor(4) as pool:
        numbers = sorted(pool.map(one, files))
    assert codes == [201] * 4
    assert numbers == [1, 2, 3, 4]


def test_models_list_filters_and_pages(registry):
    for name, task in (("a-detect", "detect"), ("b-detect", "detect"), ("c-classify", "classify")):
        assert registry.post("/v1/models", json={"name": name, "task": task}).status_code == 201
    assert registry.post("/v1/models", json={"name": "a-detect", "task": "detect"}).status_code == 409
    assert registry.post("/v1/models", json={"name": "Bad Name!", "task": "detect"}).status_code == 422
    assert registry.post("/v1/models", json={"name": "x", "task": "pose"}).status_code == 422
    page = registry.get("/v1/models", params={"task": "detect", "limit": 1}).json()
    assert page["total"] == 2
    assert [m["name"] for m in page["items"]] == ["a-detect"]
    page2 = registry.get("/v1/models", params={"task": "detect", "limit": 1, "offset": 1}).json()
    assert [m["name"] for m in page2["items"]] == ["b-detect"]
    assert [m["name"] for m in registry.get("/v1/models", params={"q": "classify"}).json()["items"]] == [
        "c-classify"
    ]
    assert registry.get("/v1/models/nope").status_code == 404
