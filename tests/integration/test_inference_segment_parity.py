"""The inference service's own segment decoding (numpy/OpenCV, domain/masks.py) gives the same instances
as Ultralytics' `predict` (with `retina_masks=True`: masks at the photo's own size) on the same ONNX model
and pixels: same classes, boxes as close as for detect, and mask IoU >= 0.9 per instance."""

import os
import random

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from linesight_inference.domain.masks import decode_segment, describe
from linesight_inference.domain.yolo import letterbox
from tests.integration.test_inference_parity import iou
from tests.support.segment_data import draw_surface
from tests.support.yolo_models import segment_model

os.environ.setdefault("YOLO_OFFLINE", "1")

SIZES = [(320, 240), (400, 300), (250, 180), (240, 320), (640, 480)]


@pytest.fixture(scope="module")
def seg_onnx():
    return segment_model()


def surfaces() -> list[tuple[np.ndarray, list]]:
    rng = random.Random(11)
    out = []
    for i in range(10):
        img, instances = draw_surface(rng, size=SIZES[i % len(SIZES)])
        out.append((np.asarray(img), instances))
    return out


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.logical_and(a, b).sum()
    union = np.logical_or(a, b).sum()
    return float(inter / union) if union else 1.0


@pytest.mark.parametrize("rect", [False, True], ids=["square", "stride-padded"])
def test_segment_matches_ultralytics(seg_onnx, rect):
    from ultralytics import YOLO

    session = ort.InferenceSession(str(seg_onnx), providers=["CPUExecutionProvider"])
    reference = YOLO(str(seg_onnx), task="segment")
    matched, ious = 0, []
    for rgb, _ in surfaces():
        h, w = rgb.shape[:2]
        chw, lb = letterbox(rgb, (160, 160), stride=32 if rect else None)
        out0, out1 = session.run(None, {session.get_inputs()[0].name: chw[None]})
        det, masks = decode_segment(
            out0[0], out1[0], lb, chw.shape[1:], conf_thres=0.25, iou_thres=0.7, max_det=300
        )
        res = reference.predict(
            rgb[:, :, ::-1].copy(), imgsz=160, conf=0.25, iou=0.7, rect=rect, retina_masks=True, verbose=False
        )[0]
        ref_boxes = res.boxes.xyxy.numpy()
        ref_conf, ref_cls = res.boxes.conf.numpy(), res.boxes.cls.numpy()
        ref_masks = res.masks.data.numpy() if res.masks is not None else np.zeros((0, h, w))
        assert len(det) == len(ref_boxes), f"{len(det)} instances here, {len(ref_boxes)} from Ultralytics"
        assert ref_masks.shape[1:] == (h, w)
        unmatched = list(range(len(ref_boxes)))
        for row, mask in zip(det, masks, strict=True):
            best = max(unmatched, key=lambda j: iou(row[:4], ref_boxes[j]), default=None)
            assert best is not None
            assert iou(row[:4], ref_boxes[best]) >= 0.9  # the detect parity tolerance
            assert int(row[5]) == int(ref_cls[best])
            assert abs(row[4] - ref_conf[best]) < 0.02
            m_iou = mask_iou(mask.full(w, h), ref_masks[best] > 0)
            assert m_iou >= 0.9, f"mask IoU {m_iou:.3f} with Ultralytics' mask"
            ious.append(m_iou)
            unmatched.remove(best)
            matched += 1
    assert matched >= 10, "the comparison must cover real instances"
    print(f"{matched} instances, mask IoU min {min(ious):.3f} mean {np.mean(ious):.3f}")


def test_polygon_area_and_length_describe_the_drawn_defects(seg_onnx):
    """Against the truth drawn into the photos: the polygon covers the instance, the area is its pixel
    count and a crack's length is its extent, within what a 160 px model can resolve."""
    session = ort.InferenceSession(str(seg_onnx), providers=["CPUExecutionProvider"])
    checked = 0
    for rgb, truth in surfaces():
        h, w = rgb.shape[:2]
        chw, lb = letterbox(rgb, (160, 160), stride=32)
        out0, out1 = session.run(None, {session.get_inputs()[0].name: chw[None]})
        det, masks = decode_segment(
            out0[0], out1[0], lb, chw.shape[1:], conf_thres=0.5, iou_thres=0.7, max_det=300
        )
        for row, mask in zip(det, masks, strict=True):
            full = mask.full(w, h)
            true = max(truth, key=lambda t: mask_iou(full, t.mask))
            if int(row[5]) != true.cls or mask_iou(full, true.mask) < 0.5:
                continue
            shape = describe(mask)
            assert shape.area_px == int(full.sum())
            assert 0.6 <= shape.area_px / true.mask.sum() <= 1.6
            # the polygon outlines the mask's largest region (a crack the model sees broken has two)
            regions = cv2.findContours(full, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
            largest = np.zeros((h, w), np.uint8)
            cv2.drawContours(largest, [max(regions, key=cv2.contourArea)], -1, 1, thickness=-1)
            drawn = np.zeros((h, w), np.uint8)
            cv2.fillPoly(drawn, [np.round(np.array(shape.polygon)).astype(np.int32)], 1)
            assert mask_iou(drawn, largest) >= 0.85, "the simplified polygon must still outline the region"
            assert len(shape.polygon) < cv2.arcLength(max(regions, key=cv2.contourArea), True) / 4
            if len(regions) == 1:
                true_len = max(cv2.minAreaRect(true.polygon.astype(np.float32))[1])
                assert abs(shape.length_px - true_len) <= 0.2 * true_len + 6, (shape.length_px, true_len)
            checked += 1
    assert checked >= 8
