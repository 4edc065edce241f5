"""One model version on ONNX Runtime: its session, how an image becomes an input row, how a batch runs and
how each output row becomes detections, masked instances or classes (the numpy/OpenCV code of
domain/yolo.py and domain/masks.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from linesight_inference.domain.execution import ExecutionPlan
from linesight_inference.domain.masks import InstanceShape, decode_segment, describe
from linesight_inference.domain.yolo import (
    Letterbox,
    classify_input,
    decode_detect,
    letterbox_pixels,
    to_input,
    topk,
)


@dataclass(frozen=True)
class Options:
    """Per-request post-processing settings."""

    conf: float = 0.25
    iou: float = 0.7
    max_det: int = 300
    top_k: int = 5


@dataclass(frozen=True)
class Prepared:
    """An image fitted to the network input, with what is needed to map the output back."""

    # Detect and segment: the letterboxed photo, HWC uint8 (a quarter of its float row's bytes), made the
    # network's row only when its batch is built, in one pass into a reused buffer. Classify: the CHW
    # float32 row.
    pixels: np.ndarray
    letterbox: Letterbox | None  # detect and segment only
    width: int
    height: int

    @property
    def input_hw(self) -> tuple[int, int]:
        """The (height, width) of the network input this image runs at."""
        shape = self.pixels.shape
        return (shape[0], shape[1]) if self.letterbox is not None else (shape[1], shape[2])


@dataclass(frozen=True)
class Job:
    prepared: Prepared
    options: Options


@dataclass(frozen=True)
class Output:
    """One image's answer: detect rows (x1, y1, x2, y2, conf, cls), the same for segment with each row's
    mask outline, area and length in `instances`, or classify (class, probability)."""

    detections: np.ndarray | None
    classes: list[tuple[int, float]] | None
    inference_s: float
    postprocess_s: float
    batch_size: int  # images in the ONNX Runtime run that answered this one
    instances: list[InstanceShape] | None = None


LETTERBOXED = ("detect", "segment")


class ModelRunner:
    """Owns the ONNX Runtime session(s) of one model version. `run` may be called from several threads at
    once (`InferenceSession.run` is thread-safe); see batching.

    With `solo_threads`, a second session of the same model uses that many threads, spinning between
    operators, for a batch that has the CPU to itself: a lone request is answered as fast as a session on
    every core answers, while under load the concurrent runs share the cores without waking each other's
    threads."""

    def __init__(
        self,
        path: Path,
        *,
        task: str,
        imgsz: tuple[int, int],
        plan: ExecutionPlan,
        threads: int = 0,
        allow_spinning: bool = False,
        solo_threads: int = 0,
        stride: int | None = None,
        on_run: Callable[[int], None] | None = None,
    ) -> None:
        self.session: ort.InferenceSession | None = _open(path, plan, threads, allow_spinning)
        self.solo_session: ort.InferenceSession | None = (
            _open(path, plan, solo_threads, True) if solo_threads else None
        )
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape: list[object] = list(inp.shape)
        # A segment model answers boxes with mask coefficients and the mask prototypes: both are needed.
        outputs = self.session.get_outputs()
        self.output_names = [o.name for o in outputs[: 2 if task == "segment" else 1]]
        self.dynamic_batch = not isinstance(inp.shape[0], int) or inp.shape[0] < 1
        self.task = task
        self.imgsz = imgsz
        self.providers = list(self.session.get_providers())
        meta = self.session.get_modelmeta().custom_metadata_map
        self.end2end = meta.get("end2end", "False") == "True"
        self.half = inp.type == "tensor(float16)"
        # A detect or segment model with dynamic height and width gets photos padded only to the next stride
        # multiple (less to compute for a non-square photo); rows of different shapes then run separately.
        dynamic_size = not (isinstance(inp.shape[2], int) and isinstance(inp.shape[3], int))
        self.stride = stride if task in LETTERBOXED and dynamic_size and stride else None
        self._on_run = on_run
        self._buffers = InputBuffers(np.float16 if self.half else np.float32)

    def fit_size(self, width: int, height: int) -> tuple[int, int]:
        """The size (w, h) a photo of this size is resized to before padding or cropping: a decoder may
        hand over any image at least this large and lose nothing."""
        th, tw = self.imgsz
        if self.task in LETTERBOXED:
            r = min(th / height, tw / width)
            return max(round(width * r), 1), max(round(height * r), 1)
        if th != tw:
            return tw, th
        r = th / min(width, height)  # classify: the shortest side to the input size
        return max(round(width * r), th), max(round(height * r), th)

    def prepare(self, image: Image.Image, original: tuple[int, int] | None = None) -> Prepared:
        """RGB image → network input row. Detect and segment letterbox into the export size (padded to the
        stride when the model takes any size); classify resizes the shortest side and crops the centre.

        `original` (w, h): the photo's own size when `image` is a reduced decode of it; boxes are then
        mapped back to the original's pixels."""
        width, height = original or image.size
        if self.task not in LETTERBOXED:
            return Prepared(classify_input(image, self.imgsz), None, width, height)
        # np.asarray shares the decoded image's memory; the resize writes into the padded canvas.
        pixels, lb = letterbox_pixels(np.asarray(image), self.imgsz, stride=self.stride)
        if (width, height) != image.size:
            unpad_w, unpad_h = lb.gain_x * lb.orig_w, lb.gain_y * lb.orig_h
            lb = replace(lb, gain_x=unpad_w / width, gain_y=unpad_h / height, orig_w=width, orig_h=height)
        return Prepared(pixels, lb, width, height)

    def batch_input(self, jobs: list[Job], rows: list[int]) -> np.ndarray:
        """The input of one ONNX Runtime run: the rows' images written into a buffer taken from the reused
        ones (`run` gives it back after the run)."""
        h, w = jobs[rows[0]].prepared.input_hw
        batch = self._buffers.take((len(rows), 3, h, w))
        for k, i in enumerate(rows):
            pixels = jobs[i].prepared.pixels
            if pixels.dtype == np.uint8:
                to_input(pixels, batch[k])
            else:
                batch[k] = pixels
        return batch

    def run(self, jobs: list[Job], solo: bool = False) -> list[Output | Exception]:
        """ONNX Runtime runs over the jobs' rows (one per input shape: one run unless photos of different
        aspect ratios meet), then each row's post-processing. A row whose post-processing fails fails
        alone; a failing run fails them all (raised)."""
        session = (self.solo_session if solo else None) or self.session
        if session is None:
            raise RuntimeError("the model was released")
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, job in enumerate(jobs):
            groups.setdefault(job.prepared.input_hw, []).append(i)
        outputs: list[Output | Exception | None] = [None] * len(jobs)
        for rows in groups.values():
            batch = self.batch_input(jobs, rows)
            start = time.perf_counter()
            try:
                raw = session.run(self.output_names, {self.input_name: batch})
            finally:
                self._buffers.give(batch)  # ONNX Runtime keeps no reference to its input
            inference_s = time.perf_counter() - start
            if self._on_run is not None:
                self._on_run(len(rows))
            for k, i in enumerate(rows):
                t0 = time.perf_counter()
                try:
                    det, classes, instances = self._postprocess([r[k] for r in raw], jobs[i])
                except Exception as exc:  # noqa: BLE001 - reported on this image's request only
                    outputs[i] = exc
                    continue
                elapsed = time.perf_counter() - t0
                outputs[i] = Output(det, classes, inference_s, elapsed, len(rows), instances)
        return [o for o in outputs if o is not None]

    def _postprocess(
        self, row: list[np.ndarray], job: Job
    ) -> tuple[np.ndarray | None, list[tuple[int, float]] | None, list[InstanceShape] | None]:
        o = job.options
        lb = job.prepared.letterbox
        if self.task == "detect":
            assert lb is not None
            det = decode_detect(
                row[0].astype(np.float32, copy=False),
                lb,
                conf_thres=o.conf,
                iou_thres=o.iou,
                max_det=o.max_det,
                end2end=self.end2end,
            )
            return det, None, None
        if self.task == "segment":
            assert lb is not None
            det, masks = decode_segment(
                row[0].astype(np.float32, copy=False),
                row[1].astype(np.float32, copy=False),
                lb,
                job.prepared.input_hw,
                conf_thres=o.conf,
                iou_thres=o.iou,
                max_det=o.max_det,
                end2end=self.end2end,
            )
            return det, None, [describe(m) for m in masks]
        return None, topk(row[0], o.top_k), None

    def warm_up(self, batch_sizes: tuple[int, ...]) -> None:
        """Run blank inputs once per batch size: the first run allocates and tunes, so no request pays it."""
        h, w = self.imgsz
        dtype = np.float16 if self.half else np.float32
        for n in batch_sizes:
            if n > 1 and not self.dynamic_batch:
                continue
            blank = np.full((n, 3, h, w), 114 / 255, dtype=dtype)
            for session in (self.session, self.solo_session):
                if session is not None:
                    session.run(self.output_names, {self.input_name: blank})

    def close(self) -> None:
        # ONNX Runtime frees a session and its memory when the last reference goes (a run still going
        # holds its own).
        self.session = self.solo_session = None
        self._buffers.clear()


class InputBuffers:
    """Batch inputs kept for the next run of the same shape: a fresh 640 px batch of 8 (39 MB) is paid for
    in page faults on every run. A run takes one and gives it back, so at most one is held per run that can
    happen at once, for the last few shapes used (a station's camera gives one)."""

    SHAPES_KEPT = 2

    def __init__(self, dtype: type[np.floating]) -> None:
        self.dtype = dtype
        self._free: dict[tuple[int, ...], list[np.ndarray]] = {}
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        with self._lock:
            free = self._free.get(shape)
            if free:
                return free.pop()
        return np.empty(shape, dtype=self.dtype)

    def give(self, buffer: np.ndarray) -> None:
        with self._lock:
            free = self._free.pop(buffer.shape, [])  # re-inserted last: the most recently used shape
            free.append(buffer)
            self._free[buffer.shape] = free
            while len(self._free) > self.SHAPES_KEPT:
                del self._free[next(iter(self._free))]

    def clear(self) -> None:
        with self._lock:
            self._free.clear()


def _open(path: Path, plan: ExecutionPlan, threads: int, spinning: bool) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=list(plan.providers))
