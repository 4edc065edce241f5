"""The runner reuses its batch input buffers from run to run: runs at the same time from several threads,
of photos whose input shapes alternate (more shapes than it keeps), answer exactly what each photo
answers alone on a runner of its own."""

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort
import pytest

from linesight_core.images import decode_image
from linesight_inference.domain.execution import plan_execution
from linesight_inference.domain.model_runner import InputBuffers, Job, ModelRunner, Options
from tests.support.synthetic import draw_scene, jpeg
from tests.support.yolo_models import detect_model

pytestmark = pytest.mark.integration
LIMITS = {"max_bytes": 8 << 20, "max_pixels": 40_000_000}
SIZES = [(640, 480), (480, 640), (320, 320), (640, 360)]  # four input shapes at 160 px, stride 32


def runner() -> ModelRunner:
    plan = plan_execution("cpu", ort.get_available_providers())
    return ModelRunner(detect_model(), task="detect", imgsz=(160, 160), plan=plan, threads=1, stride=32)


def jobs_of(r: ModelRunner, seed: int) -> list[Job]:
    jobs = []
    for k, size in enumerate(SIZES):
        decoded = decode_image(jpeg(draw_scene(random.Random(seed * 10 + k), size=size)[0]), **LIMITS)
        jobs.append(Job(r.prepare(decoded.image, (decoded.width, decoded.height)), Options(conf=0.1)))
    return jobs


def test_reused_buffers_answer_as_fresh_runs():
    shared, fresh = runner(), runner()
    jobs = [job for seed in range(3) for job in jobs_of(shared, seed)]
    assert len({job.prepared.input_hw for job in jobs}) > InputBuffers.SHAPES_KEPT
    alone = []
    for job in jobs:
        [out] = fresh.run([job])
        assert not isinstance(out, Exception) and out.detections is not None
        alone.append(out.detections)
    assert sum(len(d) for d in alone) > 0, "the comparison must cover real detections"

    by_shape: dict[tuple[int, int], list[int]] = {}
    for i, job in enumerate(jobs):
        by_shape.setdefault(job.prepared.input_hw, []).append(i)
    shapes = list(by_shape.values())

    def batch(call: int) -> tuple[list[int], list[np.ndarray]]:
        # pairs of one shape, the shape moving on with each call: concurrent calls want the same buffers
        same = shapes[(call // 4) % len(shapes)]
        picked = [same[call % len(same)], same[(call + 1) % len(same)]]
        outs = shared.run([jobs[i] for i in picked])
        return picked, [o.detections for o in outs]  # type: ignore[union-attr]

    with ThreadPoolExecutor(4) as pool:
        for picked, answers in pool.map(batch, range(200)):
            for i, got in zip(picked, answers, strict=True):
                assert np.array_equal(got, alone[i])
