"""One prediction request end to end: resolve and hold the model version, decode and fit each image off the
event loop, queue the images for a batch, and turn each output into the API's answer, timed by stage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from linesight_core.contracts.inference import (
    Box,
    ClassScore,
    Detection,
    ImageSize,
    Prediction,
    PredictParams,
    SegmentInstance,
    StageTimings,
)
from linesight_core.errors import Problem
from linesight_core.images import ImageRejected, decode_image
from linesight_inference import metrics
from linesight_inference.domain.batching import Batched, BatcherClosed, QueueFull
from linesight_inference.domain.model_runner import Job, ModelRunner, Options, Output, Prepared
from linesight_inference.domain.pool import LoadedVersion, ModelPool
from linesight_inference.domain.priority import REPLAY, GateFull, PriorityGate

STAGES = ("queue", "preprocess", "inference", "postprocess", "total")
_STAGE = {stage: metrics.STAGE_SECONDS.labels(stage) for stage in STAGES}


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    min_side: int = 1


class Predictor:
    def __init__(
        self,
        pool: ModelPool,
        limits: ImageLimits,
        preprocess_executor: Executor,
        gate: PriorityGate | None = None,
    ) -> None:
        self.pool = pool
        self.limits = limits
        self.executor = preprocess_executor
        self.gate = gate or PriorityGate(slots=1, max_defer_s=2.0, max_waiting=64)

    async def predict(self, images: Sequence[bytes], params: PredictParams) -> list[Prediction]:
        """Predictions in the order of the images. A bad image fails the whole request with its 4xx.
        Replay-priority images pass the priority gate one by one (domain/priority.py)."""
        start = time.perf_counter()
        if params.priority == REPLAY:
            return await self._predict_replay(images, params, start)
        self.gate.live_started(len(images))
        try:
            lv = await self.pool.acquire(params.model, alias=params.alias, version=params.version)
            try:
                return await self._predict(lv, images, params, start)
            finally:
                lv.release()
        finally:
            self.gate.live_finished(len(images))

    async def _predict_replay(
        self, images: Sequence[bytes], params: PredictParams, start: float
    ) -> list[Prediction]:
        # The version is loaded before the gate: a load is not a slot's work, and an unknown model is
        # refused without waiting.
        lv = await self.pool.acquire(params.model, alias=params.alias, version=params.version)
        try:
            answers: list[Prediction] = []
            for index, data in enumerate(images):
                try:
                    async with self.gate.replay():
                        answers += await self._predict(lv, [data], params, start)
                except GateFull as exc:
                    raise Problem(
                        503,
                        f"Replay requests are waiting for live work ({exc}); try again shortly.",
                        title="Replay queue full",
                        headers={"Retry-After": "1"},
                    ) from None
                except Problem as exc:
                    if len(images) > 1:
                        exc.detail = f"images[{index}]: {exc.detail}"
                    raise
            return answers
        finally:
            lv.release()

    async def _predict(
        self, lv: LoadedVersion, images: Sequence[bytes], params: PredictParams, start: float
    ) -> list[Prediction]:
        try:
            lv.batcher.expect(len(images))
        except QueueFull as exc:
            metrics.REFUSED.labels(lv.key[0]).inc(len(images))
            raise Problem(
                503,
                f"{lv.key[0]} v{lv.key[1]} is busy ({exc}); try again shortly.",
                title="Inference queue full",
                headers={"Retry-After": "1"},
            ) from None
        except BatcherClosed:  # released between acquire and now: cannot happen while held, kept for safety
            raise Problem(503, "The model version is being released; try again.") from None
        loop = asyncio.get_running_loop()
        prepared = await asyncio.gather(
            *(self._timed_prepare(loop, lv.runner, data) for data in images), return_exceptions=True
        )
        failed = [(i, r) for i, r in enumerate(prepared) if isinstance(r, BaseException)]
        if failed:
            lv.batcher.forget(len(images))
            index, error = failed[0]
            if isinstance(error, Problem) and len(images) > 1:
                error.detail = f"images[{index}]: {error.detail}"
            raise error
        options = Options(conf=params.conf, iou=params.iou, max_det=params.max_det, top_k=params.top_k)
        outcomes = await asyncio.gather(
            *(lv.batcher.submit(Job(p, options)) for p, _ in prepared)  # type: ignore[misc]
        )
        answers = []
        for (p, preprocess_s), outcome in zip(prepared, outcomes, strict=True):  # type: ignore[misc]
            answers.append(self._answer(lv, params, p, preprocess_s, outcome, time.perf_counter() - start))
        lv.served += len(images)
        return answers

    async def _timed_prepare(
        self, loop: asyncio.AbstractEventLoop, runner: ModelRunner, data: bytes
    ) -> tuple[Prepared, float]:
        t0 = time.perf_counter()  # includes waiting for a free preprocessing thread
        prepared = await loop.run_in_executor(self.executor, self._prepare, runner, data)
        return prepared, time.perf_counter() - t0

    def _prepare(self, runner: ModelRunner, data: bytes) -> Prepared:
        limits = self.limits
        # A JPEG much larger than the network input is decoded reduced in the DCT domain (the decode of a
        # 12 Mpx photo costs more than a 640 px inference on a CPU); boxes still come in its own pixels.
        decoded = decode_image(
            data, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels, fit=runner.fit_size
        )
        if min(decoded.width, decoded.height) < limits.min_side:
            raise ImageRejected(
                422,
                f"The image is {decoded.width}x{decoded.height} pixels; images smaller than "
                f"{limits.min_side}x{limits.min_side} cannot be inspected.",
            )
        return runner.prepare(decoded.image, (decoded.width, decoded.height))

    def _answer(
        self,
        lv: LoadedVersion,
        params: PredictParams,
        prepared: Prepared,
        preprocess_s: float,
        outcome: Batched[Output],
        total_s: float,
    ) -> Prediction:
        out = outcome.value
        name = lv.key[0]
        names = lv.class_names
        detections: list[Detection] | None = None
        classes: list[ClassScore] | None = None
        instances: list[SegmentInstance] | None = None
        confidence = metrics.CONFIDENCE.labels(name)
        if out.instances is not None:
            assert out.detections is not None
            instances = []
            for (x1, y1, x2, y2, conf, cls), shape in zip(
                out.detections.tolist(), out.instances, strict=True
            ):
                label = names.get(str(int(cls)), str(int(cls)))
                instances.append(
                    SegmentInstance(
                        label=label,
                        class_id=int(cls),
                        confidence=round(conf, 5),
                        box=Box(x1=round(x1, 2), y1=round(y1, 2), x2=round(x2, 2), y2=round(y2, 2)),
                        polygon=[(round(x, 1), round(y, 1)) for x, y in shape.polygon],
                        area_px=shape.area_px,
                        length_px=round(shape.length_px, 2),
                    )
                )
                metrics.PREDICTIONS.labels(name, label).inc()
                confidence.observe(conf)
        elif out.detections is not None:
            detections = []
            for x1, y1, x2, y2, conf, cls in out.detections.tolist():
                label = names.get(str(int(cls)), str(int(cls)))
                detections.append(
                    Detection(
                        label=label,
                        class_id=int(cls),
                        confidence=round(conf, 5),
                        box=Box(x1=round(x1, 2), y1=round(y1, 2), x2=round(x2, 2), y2=round(y2, 2)),
                    )
                )
                metrics.PREDICTIONS.labels(name, label).inc()
                confidence.observe(conf)
        else:
            assert out.classes is not None
            classes = [
                ClassScore(label=names.get(str(c), str(c)), class_id=c, confidence=round(p, 5))
                for c, p in out.classes
            ]
            if classes:
                metrics.PREDICTIONS.labels(name, classes[0].label).inc()
                confidence.observe(classes[0].confidence)
        timings = {
            "queue": outcome.queue_s,
            "preprocess": preprocess_s,
            "inference": out.inference_s,
            "postprocess": out.postprocess_s,
            "total": total_s,
        }
        for stage, seconds in timings.items():
            _STAGE[stage].observe(seconds)
        return Prediction(
            model_name=name,
            alias=None if params.version is not None else params.target,
            version=lv.key[1],
            sha256=lv.meta.sha256,
            task=lv.meta.task,
            detections=detections,
            classes=classes,
            instances=instances,
            image=ImageSize(width=prepared.width, height=prepared.height),
            batch_size=out.batch_size,
            timings_ms=StageTimings(**{k: round(v * 1000, 3) for k, v in timings.items()}),
        )
