"""YOLO pre- and post-processing in numpy/OpenCV, written to match Ultralytics' own `predict`:
letterbox and normalisation for detect and segment, shortest-side resize and centre crop for classify,
decoding of the detect head with confidence filter and class-aware NMS, and top-k for classify (the masks
of a segment head: domain/masks.py)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

PAD_VALUE = 114
MAX_WH = 7680  # class offset for class-aware NMS, as Ultralytics does
MAX_NMS = 30000
INPUT_SCALE = np.float32(1.0 / 255.0)


@dataclass(frozen=True)
class Letterbox:
    """How an original image was fitted into the network input: to map boxes back."""

    gain_x: float
    gain_y: float
    pad_x: int
    pad_y: int
    orig_w: int
    orig_h: int


def letterbox_pixels(
    rgb: np.ndarray, size: tuple[int, int], *, stride: int | None = None
) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio into a grey canvas of `size` (height, width): HWC uint8, the resize
    written straight into the canvas (no padded copy). `to_input` makes the network's row of it.

    With `stride`, pad only up to the next multiple of it, as Ultralytics' predict does for models with
    dynamic input sizes (its `auto` letterbox): a 640x480 photo into 160x160 becomes 160x128."""
    h, w = rgb.shape[:2]
    new_h, new_w = size
    r = min(new_h / h, new_w / w)
    unpad_w, unpad_h = max(round(w * r), 1), max(round(h * r), 1)
    pad_w, pad_h = new_w - unpad_w, new_h - unpad_h
    if stride:
        pad_w, pad_h = pad_w % stride, pad_h % stride
    dw, dh = pad_w / 2, pad_h / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    canvas = np.full((unpad_h + top + bottom, unpad_w + left + right, 3), PAD_VALUE, dtype=np.uint8)
    inner = canvas[top : top + unpad_h, left : left + unpad_w]
    if (w, h) != (unpad_w, unpad_h):
        resized = cv2.resize(rgb, (unpad_w, unpad_h), dst=inner, interpolation=cv2.INTER_LINEAR)
        if not np.shares_memory(resized, canvas):  # OpenCV allocated its own after all
            inner[...] = resized
    else:
        inner[...] = rgb
    return canvas, Letterbox(unpad_w / w, unpad_h / h, left, top, w, h)


def to_input(pixels: np.ndarray, out: np.ndarray) -> np.ndarray:
    """HWC uint8 pixels → the network's CHW row 0..1, written into `out` (float32, or float16 for a half
    model): the same values as converting to float32 and then scaling. The planes are made contiguous in
    uint8 first: a quarter of the bytes of a float copy, and the scaling then runs on contiguous memory
    (a strided multiply straight from HWC is slower than both together)."""
    np.multiply(np.ascontiguousarray(pixels.transpose(2, 0, 1)), INPUT_SCALE, out=out, casting="same_kind")
    return out


def letterbox(
    rgb: np.ndarray, size: tuple[int, int], *, stride: int | None = None
) -> tuple[np.ndarray, Letterbox]:
    """`letterbox_pixels` as the network's input row: CHW float32 0..1."""
    pixels, lb = letterbox_pixels(rgb, size, stride=stride)
    return to_input(pixels, np.empty((3, *pixels.shape[:2]), dtype=np.float32)), lb


def classify_input(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Shortest side to the input size (bilinear, as torchvision does on PIL images), centre crop. CHW 0..1."""
    th, tw = size
    w, h = image.size
    if th == tw:
        if w <= h:
            new_w, new_h = th, int(th * h / w)
        else:
            new_w, new_h = int(th * w / h), th
    else:
        new_w, new_h = tw, th
    resized = image.convert("RGB").resize((new_w, new_h), Image.BILINEAR)
    left = round((new_w - tw) / 2.0)
    top = round((new_h - th) / 2.0)
    cropped = resized.crop((left, top, left + tw, top + th))
    arr = np.asarray(cropped, dtype=np.float32).transpose(2, 0, 1)
    return np.ascontiguousarray(arr) * (1.0 / 255.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thres: float) -> np.ndarray:
    """Greedy NMS over xyxy boxes; indices kept, highest score first (torchvision's semantics)."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(x1[i], x1[rest])
        yy1 = np.maximum(y1[i], y1[rest])
        xx2 = np.minimum(x2[i], x2[rest])
        yy2 = np.minimum(y2[i], y2[rest])
        inter = (xx2 - xx1).clip(0) * (yy2 - yy1).clip(0)
        iou = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[iou <= iou_thres]
    return np.asarray(keep, dtype=np.int64)


def select_boxes(
    output: np.ndarray,
    *,
    nc: int,
    conf_thres: float,
    iou_thres: float,
    max_det: int,
    end2end: bool = False,
) -> np.ndarray:
    """One image's raw head output → rows of (x1, y1, x2, y2, conf, cls, extra...) in network input
    pixels, after the confidence filter and class-aware NMS. The extra columns are whatever the head
    carries after its `nc` class scores (a segment head's mask coefficients)."""
    if end2end:
        return output[output[:, 4] > conf_thres][:max_det].astype(np.float32)
    pred = output.T  # (anchors, 4 + nc + extra)
    scores_all = pred[:, 4 : 4 + nc]
    cls = scores_all.argmax(1)
    conf = scores_all[np.arange(len(cls)), cls]
    keep = conf > conf_thres
    pred, conf, cls = pred[keep], conf[keep], cls[keep]
    if not len(pred):
        return np.zeros((0, 6 + pred.shape[1] - 4 - nc), dtype=np.float32)
    if len(pred) > MAX_NMS:
        top = np.argsort(-conf)[:MAX_NMS]
        pred, conf, cls = pred[top], conf[top], cls[top]
    xywh = pred[:, :4]
    boxes = np.empty_like(xywh)
    boxes[:, 0] = xywh[:, 0] - xywh[:, 2] / 2
    boxes[:, 1] = xywh[:, 1] - xywh[:, 3] / 2
    boxes[:, 2] = xywh[:, 0] + xywh[:, 2] / 2
    boxes[:, 3] = xywh[:, 1] + xywh[:, 3] / 2
    kept = nms(boxes + (cls[:, None] * MAX_WH), conf, iou_thres)[:max_det]
    return np.concatenate(
        [boxes[kept], conf[kept, None], cls[kept, None].astype(np.float32), pred[kept, 4 + nc :]], axis=1
    ).astype(np.float32, copy=False)


def boxes_to_original(det: np.ndarray, lb: Letterbox) -> np.ndarray:
    """Rows (x1, y1, x2, y2, ...) in network input pixels → a copy in original image pixels, clipped."""
    det = det.astype(np.float32, copy=True)
    det[:, [0, 2]] = ((det[:, [0, 2]] - lb.pad_x) / lb.gain_x).clip(0, lb.orig_w)
    det[:, [1, 3]] = ((det[:, [1, 3]] - lb.pad_y) / lb.gain_y).clip(0, lb.orig_h)
    return det


def decode_detect(
    output: np.ndarray,
    lb: Letterbox,
    *,
    conf_thres: float,
    iou_thres: float,
    max_det: int,
    end2end: bool = False,
) -> np.ndarray:
    """One image's raw head output → rows of (x1, y1, x2, y2, conf, cls) in original image pixels."""
    end2end = end2end or output.shape[-1] == 6
    nc = output.shape[0] - 4
    det = select_boxes(
        output, nc=nc, conf_thres=conf_thres, iou_thres=iou_thres, max_det=max_det, end2end=end2end
    )
    return boxes_to_original(det[:, :6], lb)


def topk(probs: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Top-k classes of one image. The exported classify head already applies softmax; raw logits (a
    model exported without it) are normalised here so confidences are always probabilities."""
    p = probs.astype(np.float64)
    if p.min() < 0 or abs(p.sum() - 1.0) > 1e-3:
        e = np.exp(p - p.max())
        p = e / e.sum()
    idx = np.argsort(-p, kind="stable")[:k]
    return [(int(i), float(p[i])) for i in idx]
