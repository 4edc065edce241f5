"""Inference settings, read once at start."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from linesight_core.settings import CoreSettings, RedisSettings, S3Settings


class InferenceSettings(CoreSettings, RedisSettings, S3Settings):
    model_config = SettingsConfigDict(env_prefix="LINESIGHT_", extra="ignore", frozen=True)

    service_name: str = "inference"
    port: int = 8001

    # Model artifacts downloaded from the S3 store are kept here, keyed by their sha256.
    model_cache_dir: Path = Path(tempfile.gettempdir()) / "linesight-inference-models"
    # "auto": CUDA when ONNX Runtime reports it, else CPU. Otherwise a comma-separated preference list of
    # provider names ("CUDAExecutionProvider,CPUExecutionProvider") or short names ("cuda,cpu").
    ort_providers: str = "auto"
    # Threads ONNX Runtime uses inside one operator; 0 lets ONNX Runtime decide (one per physical core).
    ort_intra_op_threads: int = Field(default=0, ge=0)
