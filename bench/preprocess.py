"""What the service does to a decoded photo before ONNX Runtime runs it (letterbox and the batch input),
against the chain it used before (resize, a padded copy, a float copy scaled in place, a stacked batch),
on the same decoded photos, in interleaved rounds: the ratio of the two in one run. Times are CPU time
(this process, all threads), which other processes competing for the cores move less than wall time.

Both start from the same reduced decode (decode_image with the runner's fit), whose time is printed for
scale; the outputs are checked to be equal before anything is timed.

    .venv/bin/python bench/preprocess.py [--imgsz 640] [--size 4032x3024] [--rounds 7] [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.inference import make_photos
from linesight_core.images import decode_image
from linesight_inference.domain.execution import plan_execution
from linesight_inference.domain.model_runner import Job, ModelRunner, Options
from linesight_inference.domain.yolo import PAD_VALUE
from tests.support.yolo_models import detect_model

LIMITS = {"max_bytes": 64 << 20, "max_pixels": 100_000_000}


def letterbox_before(rgb: np.ndarray, size: tuple[int, int], stride: int) -> np.ndarray:
    """The letterbox as the service did it before, kept here to measure against."""
    h, w = rgb.shape[:2]
    r = min(size[0] / h, size[1] / w)
    unpad_w, unpad_h = max(round(w * r), 1), max(round(h * r), 1)
    pad_w, pad_h = (size[1] - unpad_w) % stride, (size[0] - unpad_h) % stride
    if (w, h) != (unpad_w, unpad_h):
        rgb = cv2.resize(rgb, (unpad_w, unpad_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(pad_h / 2 - 0.1), round(pad_h / 2 + 0.1)
    left, right = round(pad_w / 2 - 0.1), round(pad_w / 2 + 0.1)
    padded = cv2.copyMakeBorder(rgb, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    chw = np.ascontiguousarray(padded.transpose(2, 0, 1), dtype=np.float32)
    chw *= 1.0 / 255.0
    return chw


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--size", default="4032x3024")
    p.add_argument("--photos", type=int, default=8)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--repeat", type=int, default=20, help="batches timed per configuration and round")
    args = p.parse_args()
    plan = plan_execution("cpu", ort.get_available_providers())
    size = (args.imgsz, args.imgsz)
    runner = ModelRunner(detect_model(), task="detect", imgsz=size, plan=plan, threads=1, stride=32)
    photos = make_photos(args.photos, args.size)
    decoded = [decode_image(data, **LIMITS, fit=runner.fit_size) for data in photos]
    t0 = time.process_time()
    for data in photos:
        decode_image(data, **LIMITS, fit=runner.fit_size)
    decode_ms = (time.process_time() - t0) / len(photos) * 1000

    def before(batch: int) -> np.ndarray:
        rows = [letterbox_before(np.asarray(decoded[k % len(decoded)].image), size, 32) for k in range(batch)]
        return rows[0][None] if batch == 1 else np.stack(rows)

    def after(batch: int) -> np.ndarray:
        jobs = [
            Job(runner.prepare(d.image, (d.width, d.height)), Options())
            for d in (decoded[k % len(decoded)] for k in range(batch))
        ]
        tensor = runner.batch_input(jobs, list(range(batch)))
        runner._buffers.give(tensor)  # as run() does once ONNX Runtime has run
        return tensor

    for batch in (1, 8):
        assert np.array_equal(before(batch), after(batch)), "the two chains must give the same input"
    ways: dict[str, Callable[[int], np.ndarray]] = {"before": before, "after": after}
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for batch in (1, 8):
            for name, way in ways.items():
                way(batch)
                t = time.process_time()
                for _ in range(args.repeat):
                    way(batch)
                per_image = (time.process_time() - t) / args.repeat / batch * 1000
                times.setdefault((name, batch), []).append(per_image)
    decoded_size = "x".join(map(str, decoded[0].image.size))
    print(
        f"{args.size} JPEG decoded reduced to {decoded_size} ({decode_ms:.1f} ms CPU a photo, the same for both),"
        f" imgsz {args.imgsz}; median of {args.rounds} interleaved rounds of {args.repeat} batches"
    )
    for batch in (1, 8):
        b, a = (statistics.median(times[(n, batch)]) for n in ("before", "after"))
        print(
            f"  batch {batch}: before {b:.2f} ms CPU an image, after {a:.2f} ms; after/before = {a / b:.2f}"
        )


if __name__ == "__main__":
    main()
