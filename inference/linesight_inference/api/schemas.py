"""Response bodies of the inference service's internal API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RuntimeInfo(BaseModel):
    onnxruntime_version: str
    device: str = Field(description="What this ONNX Runtime build targets: CPU or GPU")
    available_providers: list[str] = Field(description="Execution providers this ONNX Runtime build offers")
    provider_preference: str = Field(description="The LINESIGHT_ORT_PROVIDERS setting")
    providers: list[str] = Field(description="Providers given to model sessions, in order")
    chosen_provider: str = Field(description="The provider that runs the models")
    unavailable_requested: list[str] = Field(description="Providers asked for but not offered here")
    intra_op_threads: int = Field(description="The LINESIGHT_ORT_INTRA_OP_THREADS setting; 0: automatic")
    threads_per_run: int = Field(description="Intra-op threads each session runs with; 0: ONNX Runtime's own")
    concurrent_batches: int = Field(description="Runs of one model version at the same time")
    solo_threads: int = Field(description="Threads of the session for a batch alone on the CPU; 0: none")
    cpu_count: int
    model_cache_dir: str
