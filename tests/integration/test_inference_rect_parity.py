"""The stride-padded letterbox the service uses for detect models with dynamic input sizes gives the same
answers as Ultralytics' default `predict` (which pads the same way), on photos of several aspect ratios."""

import os
import random

import numpy as np
import onnxruntime as ort
import pytest

from linesight_inference.domain.yolo import decode_detect, letterbox
from tests.integration.test_inference_parity import iou, ultralytics_assets
from tests.support.synthetic import draw_scene
from tests.support.yolo_models import detect_model

os.environ.setdefault("YOLO_OFFLINE", "1")
pytestmark = pytest.mark.integration


def test_stride_padded_letterbox_matches_ultralytics_default_predict():
    from PIL import Image
    from ultralytics import YOLO

    path = detect_model()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = YOLO(str(path), task="detect")
    rng = random.Random(21)
    images = [
        draw_scene(rng, size=size)[0] for size in [(640, 480), (480, 640), (400, 225), (333, 333), (250, 180)]
    ]
    images += [Image.open(p).convert("RGB") for p in ultralytics_assets()]
    shapes, total = set(), 0
    for img in images:
        rgb = np.asarray(img)
        chw, lb = letterbox(rgb, (160, 160), stride=32)
        shapes.add(chw.shape)
        raw = session.run(None, {session.get_inputs()[0].name: chw[None]})[0][0]
        ours = decode_detect(raw, lb, conf_thres=0.25, iou_thres=0.7, max_det=300)
        theirs = reference.predict(rgb[:, :, ::-1].copy(), imgsz=160, conf=0.25, iou=0.7, verbose=False)[
            0
        ].boxes
        ref = np.concatenate(
            [theirs.xyxy.numpy(), theirs.conf.numpy()[:, None], theirs.cls.numpy()[:, None]], 1
        )
        assert len(ours) == len(ref)
        for row in ours:
            best = max(range(len(ref)), key=lambda j: iou(row[:4], ref[j, :4]))
            assert iou(row[:4], ref[best, :4]) >= 0.9
            assert int(row[5]) == int(ref[best, 5])
            assert abs(row[4] - ref[best, 4]) < 0.02
        total += len(ours)
    assert total > 0
    assert (3, 128, 160) in shapes and (3, 160, 128) in shapes  # 4:3 and 3:4 photos are not padded square
