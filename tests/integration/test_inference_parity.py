"""The inference service's own pre- and post-processing (numpy/OpenCV) gives the same answers as
Ultralytics' `predict` on the same ONNX model and the same pixels."""

import os
import random
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from linesight_inference.domain.yolo import classify_input, decode_detect, letterbox, topk
from tests.support.synthetic import draw_scene
from tests.support.yolo_models import classify_model, detect_model

os.environ.setdefault("YOLO_OFFLINE", "1")


def ultralytics_assets() -> list[Path]:
    import ultralytics

    folder = Path(ultralytics.__file__).parent / "assets"
    return sorted(folder.glob("*.jpg"))


def sample_images() -> list[Image.Image]:
    rng = random.Random(7)
    scenes = [
        draw_scene(rng, size=(rng.choice([320, 400, 250]), rng.choice([240, 300, 180])))[0] for _ in range(8)
    ]
    photos = [Image.open(p).convert("RGB") for p in ultralytics_assets()]
    assert len(photos) >= 2, "Ultralytics ships bus.jpg and zidane.jpg in its assets folder"
    return scenes + photos


def iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@pytest.mark.parametrize("conf", [0.25, 0.05])
def test_detect_matches_ultralytics(conf):
    from ultralytics import YOLO

    path = detect_model()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = YOLO(str(path), task="detect")
    total = 0
    for img in sample_images():
        rgb = np.asarray(img)
        chw, lb = letterbox(rgb, (160, 160))
        raw = session.run(None, {session.get_inputs()[0].name: chw[None]})[0][0]
        ours = decode_detect(raw, lb, conf_thres=conf, iou_thres=0.7, max_det=300)
        # rect=False: the service letterboxes to the square export size (so requests can be batched);
        # Ultralytics' predict pads dynamic models to the smallest stride multiple unless told otherwise.
        theirs = reference.predict(
            rgb[:, :, ::-1].copy(), imgsz=160, conf=conf, iou=0.7, rect=False, verbose=False
        )[0].boxes
        ref = np.concatenate(
            [theirs.xyxy.numpy(), theirs.conf.numpy()[:, None], theirs.cls.numpy()[:, None]], 1
        )
        assert len(ours) == len(ref), f"{len(ours)} boxes here, {len(ref)} from Ultralytics"
        unmatched = list(range(len(ref)))
        for row in ours:
            best = max(unmatched, key=lambda j: iou(row[:4], ref[j, :4]), default=None)
            assert best is not None
            assert iou(row[:4], ref[best, :4]) >= 0.9
            assert int(row[5]) == int(ref[best, 5])
            assert abs(row[4] - ref[best, 4]) < 0.02
            unmatched.remove(best)
        total += len(ours)
    assert total > 0, "the comparison must cover real detections"


def test_classify_matches_ultralytics():
    from ultralytics import YOLO

    path = classify_model()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = YOLO(str(path), task="classify")
    for img in sample_images():
        chw = classify_input(img, (96, 96))
        probs = session.run(None, {session.get_inputs()[0].name: chw[None]})[0][0]
        ours = topk(probs, 2)
        res = reference.predict(np.asarray(img)[:, :, ::-1].copy(), imgsz=96, verbose=False)[0].probs
        theirs = res.data.numpy()
        assert ours[0][0] == int(res.top1)
        for cls, p in ours:
            assert abs(p - float(theirs[cls])) < 0.02
