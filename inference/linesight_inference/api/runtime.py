"""What runs the models on this replica: ONNX Runtime version, providers, threads."""

from __future__ import annotations

import os

import onnxruntime as ort
from fastapi import APIRouter, Request

from linesight_inference.api.schemas import RuntimeInfo

router = APIRouter(prefix="/v1", tags=["runtime"])


@router.get("/runtime", response_model=RuntimeInfo, summary="The ONNX Runtime setup of this replica")
def runtime_info(request: Request) -> RuntimeInfo:
    plan = request.app.state.execution
    settings = request.app.state.settings
    return RuntimeInfo(
        onnxruntime_version=ort.__version__,
        device=ort.get_device(),
        available_providers=list(plan.available),
        provider_preference=plan.preference,
        providers=list(plan.providers),
        chosen_provider=plan.chosen,
        unavailable_requested=list(plan.unavailable_requested),
        intra_op_threads=plan.intra_op_threads,
        threads_per_run=request.app.state.parallelism.threads_per_run,
        concurrent_batches=request.app.state.parallelism.concurrent_batches,
        solo_threads=request.app.state.parallelism.solo_threads,
        cpu_count=os.cpu_count() or 1,
        model_cache_dir=str(settings.model_cache_dir),
    )
