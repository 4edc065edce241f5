"""The CUDA path: where ONNX Runtime offers CUDAExecutionProvider (the GPU image's onnxruntime-gpu), the
service's runner puts the model on it and answers what it answers on the CPU, one image and a micro-batch,
a camera photo decoded reduced included. Skipped, with the reason, on a host without it."""

import random

import onnxruntime as ort
import pytest

from linesight_core.images import decode_image
from linesight_inference.domain.execution import CPU, CUDA, plan_execution, plan_parallelism
from linesight_inference.domain.model_runner import Job, ModelRunner, Options
from tests.integration.test_inference_reduced_decode import LIMITS, assert_same, camera_photo
from tests.support.synthetic import draw_scene, jpeg
from tests.support.yolo_models import detect_model

OFFERED = ort.get_available_providers()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CUDA not in OFFERED,
        reason=f"CUDAExecutionProvider is not offered by this ONNX Runtime {ort.__version__} "
        f"(device {ort.get_device()}, providers {', '.join(OFFERED)}): the CUDA path needs a GPU host "
        "with onnxruntime-gpu, as the GPU image installs it",
    ),
]


def runner_on(preference: str) -> ModelRunner:
    plan = plan_execution(preference, OFFERED)
    threads = plan_parallelism(plan, 2).threads_per_run
    return ModelRunner(detect_model(), task="detect", imgsz=(160, 160), plan=plan, threads=threads, stride=32)


def test_detect_runs_on_cuda_and_answers_as_on_the_cpu():
    cuda, cpu = runner_on("cuda"), runner_on("cpu")
    assert cuda.providers[0] == CUDA, cuda.providers
    assert cpu.providers == [CPU]
    # what the service asks on a GPU: one run at a time, ONNX Runtime's own threads
    assert plan_parallelism(plan_execution("auto", OFFERED), 16).concurrent_batches == 1
    photos = [jpeg(draw_scene(random.Random(seed), size=(640, 480))[0]) for seed in range(6)]
    photos += [camera_photo(11), camera_photo(12)]
    jobs = []
    for data in photos:
        decoded = decode_image(data, **LIMITS, fit=cuda.fit_size)
        jobs.append(Job(cuda.prepare(decoded.image, (decoded.width, decoded.height)), Options()))
    cuda.warm_up((1, 8))
    batched = cuda.run(jobs)  # the 640x480 and the 4:3 camera photos share one input shape
    assert all(o.batch_size == len(jobs) for o in batched if not isinstance(o, Exception))
    for job, on_gpu in zip(jobs, batched, strict=True):
        [alone] = cuda.run([job])
        [on_cpu] = cpu.run([job])
        for out in (on_gpu, alone, on_cpu):
            assert not isinstance(out, Exception) and out.detections is not None
        assert_same(on_cpu.detections, on_gpu.detections)  # type: ignore[union-attr]
        assert_same(on_cpu.detections, alone.detections)  # type: ignore[union-attr]
