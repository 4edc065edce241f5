"""A segment model served by the inference service through a real registry process: each instance's class,
box, polygon, area and length agree with Ultralytics' `predict` on the same pixels (a camera-size JPEG
included, decoded reduced), the batch endpoint and concurrent requests share ONNX Runtime runs and answer
as single requests do, and a promotion swaps the version under load without a failed request."""

import io
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from linesight_core.images import decode_image
from linesight_inference.main import create_app
from linesight_inference.settings import InferenceSettings
from tests.integration.test_inference_parity import iou
from tests.support.segment_data import SEGMENT_CLASSES, draw_surface
from tests.support.services import RegistryAdmin, ServiceProcess, variant
from tests.support.yolo_models import segment_model

pytestmark = pytest.mark.integration

TOKEN = "inference-segment-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMITS = {"max_bytes": 20 * 1024 * 1024, "max_pixels": 40_000_000}


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def photos(n: int, seed: int = 4) -> list[bytes]:
    rng = random.Random(seed)
    sizes = [(320, 240), (400, 300), (250, 180), (640, 480)]
    return [encode(draw_surface(rng, size=sizes[i % 4])[0], "PNG" if i % 2 else "JPEG") for i in range(n)]


@pytest.fixture(scope="module")
def seg_onnx() -> Path:
    return segment_model()


@pytest.fixture
def registry(fresh_service_env, tmp_path, seg_onnx):
    """A registry process with `plates` (segment) in production at v1."""
    proc = ServiceProcess(
        "linesight_registry", {**fresh_service_env, "LINESIGHT_SERVICE_TOKEN": TOKEN}, tmp_path / "reg.log"
    )
    admin = RegistryAdmin(proc.url, TOKEN)
    try:
        proc.wait_ready()
        admin.create_model("plates", "segment")
        admin.upload("plates", seg_onnx)
        admin.move("plates", "production", 1)
        proc.admin = admin
        yield proc
    finally:
        admin.close()
        proc.stop()


@pytest.fixture
def inference(fresh_service_env, registry, tmp_path, monkeypatch):
    for key, value in fresh_service_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LINESIGHT_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("LINESIGHT_LOG_FORMAT", "console")
    clients = []

    def start(**overrides) -> TestClient:
        options = {"registry_url": registry.url, "model_cache_dir": tmp_path / "models", **overrides}
        client = TestClient(create_app(InferenceSettings(**options)))
        client.__enter__()
        client.headers.update(AUTH)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def predict(client: TestClient, data: bytes, **params):
    fields = {"model": "plates", **params}
    return client.post(
        "/v1/predict", data={k: str(v) for k, v in fields.items()}, files={"image": ("p", data)}
    )


def largest_contour(mask: np.ndarray) -> np.ndarray:
    regions = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
    return max(regions, key=cv2.contourArea)


def largest_region(mask: np.ndarray) -> np.ndarray:
    out = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(out, [largest_contour(mask)], -1, 1, thickness=-1)
    return out


def filled(polygon: list, shape: tuple[int, int], scale: float = 1.0) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.fillPoly(out, [np.round(np.array(polygon) * scale).astype(np.int32)], 1)
    return out


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def test_instances_agree_with_ultralytics_predict(inference, registry, seg_onnx):
    from ultralytics import YOLO

    reference = YOLO(str(seg_onnx), task="segment")
    client = inference()
    camera = draw_surface(random.Random(21), size=(640, 480), n=3)[0].resize((4032, 3024), Image.BICUBIC)
    matched = 0
    for data in [*photos(8), encode(camera, "JPEG")]:
        resp = predict(client, data)
        assert resp.status_code == 200, resp.text
        answer = resp.json()
        assert answer["task"] == "segment"
        assert answer["detections"] is None and answer["classes"] is None
        width, height = Image.open(io.BytesIO(data)).size
        assert answer["image"] == {"width": width, "height": height}
        # Ultralytics on the pixels the service saw: a camera JPEG is decoded reduced (1/4 here), and
        # the service's answer is in the photo's own pixels, `scale` times those.
        decoded = decode_image(data, **LIMITS, fit=lambda w, h: (160, round(160 * h / w)))
        scale = decoded.image.width / width
        rgb = np.asarray(decoded.image)
        res = reference.predict(
            rgb[:, :, ::-1].copy(), imgsz=160, conf=0.25, iou=0.7, rect=True, retina_masks=True, verbose=False
        )[0]
        ref_boxes, ref_cls = res.boxes.xyxy.numpy() / scale, res.boxes.cls.numpy()
        ref_masks = res.masks.data.numpy() > 0 if res.masks is not None else np.zeros((0, *rgb.shape[:2]))
        instances = answer["instances"]
        assert len(instances) == len(ref_boxes), (len(instances), len(ref_boxes))
        assert [i["confidence"] for i in instances] == sorted(
            (i["confidence"] for i in instances), reverse=True
        )
        for inst in instances:
            box = [inst["box"][k] for k in ("x1", "y1", "x2", "y2")]
            j = max(range(len(ref_boxes)), key=lambda k: iou(box, ref_boxes[k]))
            assert iou(box, ref_boxes[j]) >= 0.9
            assert inst["class_id"] == int(ref_cls[j]) and inst["label"] == SEGMENT_CLASSES[inst["class_id"]]
            ref_area = ref_masks[j].sum() / scale**2
            assert abs(inst["area_px"] - ref_area) <= 0.1 * ref_area, (inst["area_px"], ref_area)
            outline = filled(inst["polygon"], rgb.shape[:2], scale)
            assert mask_iou(outline, largest_region(ref_masks[j])) >= 0.85
            xs = [p[0] for p in inst["polygon"]]
            assert box[0] - 1 <= min(xs) <= max(xs) <= box[2] + 1
            # the length: the longest side of the rotated rectangle around Ultralytics' largest region
            ref_len = max(cv2.minAreaRect(largest_contour(ref_masks[j]))[1]) / scale
            assert abs(inst["length_px"] - ref_len) <= 0.1 * ref_len + 2 / scale, (inst["length_px"], ref_len)
            assert inst["length_px"] > 0
            matched += 1
    assert matched >= 10, "the comparison must cover real instances"
    loaded = client.get("/v1/models").json()
    assert [(m["model_name"], m["task"], m["class_names"]) for m in loaded] == [
        ("plates", "segment", {"0": "crack", "1": "spot"})
    ]


def same_instances(a: list[dict], b: list[dict]) -> None:
    assert [(i["class_id"], i["area_px"], i["polygon"]) for i in a] == [
        (i["class_id"], i["area_px"], i["polygon"]) for i in b
    ]
    for x, y in zip(a, b, strict=True):
        assert abs(x["confidence"] - y["confidence"]) <= 1e-3


def test_batches_answer_in_order_like_single_requests(inference):
    client = inference(max_batch_size=8, max_batch_wait_ms=1000)
    images = photos(5, seed=9)
    singles = [predict(client, data).json()["instances"] for data in images]
    resp = client.post(
        "/v1/predict/batch",
        data={"model": "plates"},
        files=[("images", (f"{i}", d)) for i, d in enumerate(images)],
    )
    assert resp.status_code == 200, resp.text
    for answer, single in zip(resp.json(), singles, strict=True):
        assert answer["batch_size"] == 5  # announced together: one ONNX Runtime run per input shape
        same_instances(answer["instances"], single)

    client = inference(max_batch_size=8, max_batch_wait_ms=20, max_concurrent_batches=1)
    same_shape = photos(12, seed=5)[::4] * 4  # 320x240 photos: one input shape, so they can share runs
    singles = [predict(client, data).json()["instances"] for data in same_shape]
    biggest = 0
    with ThreadPoolExecutor(12) as pool:
        for _ in range(10):
            answers = list(pool.map(lambda d: predict(client, d).json(), same_shape))
            for answer, single in zip(answers, singles, strict=True):
                same_instances(answer["instances"], single)
            biggest = max(biggest, *(a["batch_size"] for a in answers))
            if biggest > 1:
                break
    assert biggest > 1


def test_a_promotion_swaps_the_segment_model_without_a_failed_request(
    inference, registry, seg_onnx, tmp_path
):
    client = inference(reload_check_seconds=0.3)
    registry.admin.upload("plates", variant(seg_onnx, tmp_path / "v2.onnx", "v2"))
    data = photos(1)[0]
    first = predict(client, data).json()
    assert first["version"] == 1 and first["instances"]
    stop = threading.Event()
    seen: list[tuple[int, int]] = []

    def loop() -> None:
        while not stop.is_set():
            resp = predict(client, data)
            seen.append((resp.status_code, resp.json().get("version", 0)))

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        registry.admin.move("plates", "production", 2)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and seen[-3:] != [(200, 2)] * 3:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(30)
    assert all(status == 200 for status, _ in seen), seen
    versions = [v for _, v in seen]
    assert versions[-3:] == [2, 2, 2]
    assert all(v == 2 for v in versions[versions.index(2) :]), versions  # never back to the old one
    after = predict(client, data).json()
    same_instances(after["instances"], first["instances"])  # the variant answers the same
