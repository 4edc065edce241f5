"""One model version on ONNX Runtime: its session, how an image becomes an input row, how a batch runs and
how each output row becomes detections or classes (the numpy/OpenCV code of domain/yolo.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from linesight_inference.domain.execution import ExecutionPlan
from linesight_inference.domain.yolo import Letterbox, classify_input, decode_detect, letterbox, topk


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

    tensor: np.ndarray  # CHW float32
    letterbox: Letterbox | None  # detect only
    width: int
    height: int


@dataclass(frozen=True)
class Job:
    prepared: Prepared
    options: Options


@dataclass(frozen=True)
class Output:
    """One image's answer: detect rows (x1, y1, x2, y2, conf, cls) or classify (class, probability)."""

    detections: np.ndarray | None
    classes: list[tuple[int, float]] | None
    inference_s: float
    postprocess_s: float


class ModelRunner:
    """Owns an ONNX Runtime session. `run` may be called from several threads at once (ONNX Runtime's
    `InferenceSession.run` is thread-safe); see batching."""

    def __init__(
        self,
        path: Path,
        *,
        task: str,
        imgsz: tuple[int, int],
        plan: ExecutionPlan,
        allow_spinning: bool = False,
    ) -> None:
        opts = ort.SessionOptions()
        if plan.intra_op_threads:
            opts.intra_op_num_threads = plan.intra_op_threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if allow_spinning else "0")
        self.session: ort.InferenceSession | None = ort.InferenceSession(
            str(path), sess_options=opts, providers=list(plan.providers)
        )
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.output_name = self.session.get_outputs()[0].name
        self.dynamic_batch = not isinstance(inp.shape[0], int) or inp.shape[0] < 1
        self.task = task
        self.imgsz = imgsz
        self.providers = list(self.session.get_providers())
        meta = self.session.get_modelmeta().custom_metadata_map
        self.end2end = meta.get("end2end", "False") == "True"
        self.half = inp.type == "tensor(float16)"

    def prepare(self, image: Image.Image) -> Prepared:
        """RGB image → network input row. Detect letterboxes to the export size so rows of different images
        stack into one batch; classify resizes the shortest side and crops the centre."""
        if self.task == "detect":
            tensor, lb = letterbox(np.asarray(image), self.imgsz)
        else:
            tensor, lb = classify_input(image, self.imgsz), None
        if self.half:
            tensor = tensor.astype(np.float16)
        return Prepared(tensor, lb, image.width, image.height)

    def run(self, jobs: list[Job]) -> list[Output | Exception]:
        """One ONNX Runtime run over the jobs' rows, then each row's post-processing. A row whose
        post-processing fails fails alone; a failing run fails them all (raised)."""
        session = self.session
        if session is None:
            raise RuntimeError("the model was released")
        batch = (
            jobs[0].prepared.tensor[None] if len(jobs) == 1 else np.stack([j.prepared.tensor for j in jobs])
        )
        start = time.perf_counter()
        raw = session.run([self.output_name], {self.input_name: batch})[0]
        inference_s = time.perf_counter() - start
        outputs: list[Output | Exception] = []
        for i, job in enumerate(jobs):
            t0 = time.perf_counter()
            try:
                out = self._postprocess(raw[i], job)
            except Exception as exc:  # noqa: BLE001 - reported on this image's request only
                outputs.append(exc)
                continue
            outputs.append(
                Output(out[0], out[1], inference_s=inference_s, postprocess_s=time.perf_counter() - t0)
            )
        return outputs

    def _postprocess(
        self, row: np.ndarray, job: Job
    ) -> tuple[np.ndarray | None, list[tuple[int, float]] | None]:
        o = job.options
        if self.task == "detect":
            assert job.prepared.letterbox is not None
            det = decode_detect(
                row.astype(np.float32, copy=False),
                job.prepared.letterbox,
                conf_thres=o.conf,
                iou_thres=o.iou,
                max_det=o.max_det,
                end2end=self.end2end,
            )
            return det, None
        return None, topk(row, o.top_k)

    def warm_up(self, batch_sizes: tuple[int, ...]) -> None:
        """Run blank inputs once per batch size: the first run allocates and tunes, so no request pays it."""
        h, w = self.imgsz
        dtype = np.float16 if self.half else np.float32
        for n in batch_sizes:
            if n > 1 and not self.dynamic_batch:
                continue
            blank = np.full((n, 3, h, w), 114 / 255, dtype=dtype)
            assert self.session is not None
            self.session.run([self.output_name], {self.input_name: blank})

    def close(self) -> None:
        self.session = None  # ONNX Runtime frees the session and its memory when the last reference goes
