"""Inference settings, read once at start."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from linesight_core.model_input import DEFAULT_MAX_IMGSZ
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
    # Threads ONNX Runtime uses inside one run. 0: automatic (see max_concurrent_batches): on an
    # accelerator ONNX Runtime decides; on the CPU the cores are shared among concurrent runs.
    ort_intra_op_threads: int = Field(default=0, ge=0)
    # Idle ONNX Runtime threads spin for work by default: fastest for a lone session, but on a small CPU
    # the spinning takes cycles from decoding and HTTP. Off by default here; see inference/README.md.
    ort_allow_spinning: bool = False
    # On the CPU, when runs use fewer threads than there are cores: keep a second session per model version
    # on every core (spinning) for a batch that has the CPU to itself. Faster lone requests on a dedicated
    # host; its spinning threads hurt when other processes compete for the CPU, hence off by default.
    ort_solo_session: bool = False

    # Live ONNX Runtime sessions kept; the least recently used one is released (after it drains) past it.
    max_loaded_models: int = Field(default=4, ge=1)
    # Micro-batching: concurrent images for one model version share one ONNX Runtime run, up to this many,
    # waiting at most this long for images already on their way. A lone request on an idle model never
    # waits. Models exported without a dynamic batch axis always run one image at a time.
    max_batch_size: int = Field(default=16, ge=1, le=256)
    max_batch_wait_ms: float = Field(default=5.0, ge=0.0, le=1000.0)
    # Batches of one model version that may run at the same time. 0: automatic: 1 on an accelerator; on the
    # CPU up to 4 runs side by side, each with an equal share of the cores (2 cores: 2 runs of 1 thread).
    max_concurrent_batches: int = Field(default=0, ge=0, le=64)
    # Images waiting for one model version beyond which new ones are refused (503) instead of queued.
    max_queue_depth: int = Field(default=512, ge=1)
    # Detect and segment models with dynamic input sizes: pad a photo only to the next stride multiple, as
    # Ultralytics' predict does (a 4:3 photo runs at 160x128 instead of 160x160: a fifth less to compute).
    # Photos of different aspect ratios then share a batch but not an ONNX Runtime run. false: the square.
    rect_letterbox: bool = True
    # Largest image size (imgsz, pixels a side) of a model this replica loads. The registry refuses larger
    # uploads; a version stored before that check (or edited in the database) is refused here before
    # its warm-up allocates a batch of that size.
    max_model_imgsz: int = Field(default=DEFAULT_MAX_IMGSZ, ge=32, le=16384)
    # Smallest image side accepted: below it there is nothing to inspect (a 1x1 upload is a client bug).
    image_min_side: int = Field(default=8, ge=1)
    # Images in one POST /v1/predict/batch.
    max_images_per_request: int = Field(default=64, ge=1, le=1024)
    # Threads that decode and preprocess images (0: one per CPU).
    preprocess_threads: int = Field(default=0, ge=0)

    # Request priority (domain/priority.py): images sent with priority=replay wait until no live image is
    # in the service, at most this many run at a time, one that has waited replay_max_defer_ms is let in
    # anyway (so a replay moves on a line that is never idle), a slot works on replays at most
    # replay_max_share of the time, and past replay_max_waiting waiting ones new replay requests are
    # refused with 503.
    replay_slots: int = Field(default=1, ge=1, le=64)
    replay_max_share: float = Field(default=0.5, gt=0.0, le=1.0)
    replay_max_defer_ms: float = Field(default=2000.0, ge=0.0, le=60000.0)
    replay_max_waiting: int = Field(default=64, ge=1)

    # Hot reload: besides the promotion events on Redis, every served alias is re-resolved this often, in
    # case an event was missed (0 turns the periodic check off).
    reload_check_seconds: float = Field(default=30.0, ge=0.0)
