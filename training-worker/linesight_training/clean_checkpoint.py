"""The only form in which the weights of an uploaded .pt leave the conversion sandbox: plain data (tensors,
the model's architecture as JSON-like values, class names), written with torch.save and read back with
`torch.load(weights_only=True)`, which builds nothing but tensors and containers. The worker rebuilds the
Ultralytics model from it itself, so the checkpoint kept for fine-tuning (best.pt of the conversion run)
is one the worker made from objects it created, never the uploaded pickle."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "linesight-clean-checkpoint/1"
MAX_CLASSES = 10_000
MAX_NAME_CHARS = 200
MAX_YAML_CHARS = 200_000
MAX_TENSORS = 20_000


class CheckpointInvalid(Exception):
    """The sandbox's clean checkpoint is not what the converter writes."""


# The tasks whose checkpoints are converted, and the Ultralytics model class each one is rebuilt as.
TASKS = ("detect", "segment", "classify")


@dataclass(frozen=True)
class CleanCheckpoint:
    task: str
    names: list[str]
    imgsz: int
    architecture: dict[str, Any]  # the model's YAML as a dict, plain JSON values only
    state_dict: dict[str, Any]  # parameter name -> torch.Tensor


def save_clean(model: Any, *, task: str, names: list[str], imgsz: int, path: Path) -> None:
    """In the sandbox: write the loaded Ultralytics model `model` (a YOLO) as plain data."""
    import torch

    inner = model.model
    architecture = json.loads(json.dumps(inner.yaml, default=str))  # drops anything that is not data
    state = {key: value.detach().clone().contiguous() for key, value in inner.state_dict().items()}
    payload = {"format": FORMAT, "task": task, "names": names, "imgsz": imgsz, "architecture": architecture}
    torch.save({**payload, "state_dict": state}, path)


def load_clean(path: Path) -> CleanCheckpoint:
    """In the worker: read and check a clean checkpoint. weights_only loading refuses any pickled object
    that is not a tensor or a plain container, so hostile bytes here can build nothing."""
    import torch

    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise CheckpointInvalid("not a clean checkpoint") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointInvalid("not a clean checkpoint")
    task, names, imgsz = raw.get("task"), raw.get("names"), raw.get("imgsz")
    if task not in TASKS:
        raise CheckpointInvalid("unsupported task")
    if (
        not isinstance(names, list)
        or not 0 < len(names) <= MAX_CLASSES
        or not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME_CHARS and n.isprintable() for n in names)
    ):
        raise CheckpointInvalid("class names")
    if not isinstance(imgsz, int) or not 32 <= imgsz <= 4096:
        raise CheckpointInvalid("image size")
    architecture = raw.get("architecture")
    _check_architecture(architecture)
    state = raw.get("state_dict")
    if (
        not isinstance(state, dict)
        or not 0 < len(state) <= MAX_TENSORS
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        raise CheckpointInvalid("weights")
    return CleanCheckpoint(task, list(names), imgsz, architecture, dict(state))


def _check_architecture(architecture: object) -> None:
    if not isinstance(architecture, dict):
        raise CheckpointInvalid("architecture")
    text = json.dumps(architecture, allow_nan=False) if _plain(architecture) else ""
    if not text or len(text) > MAX_YAML_CHARS:
        raise CheckpointInvalid("architecture")
    for key in ("backbone", "head"):
        layers = architecture.get(key)
        if not isinstance(layers, list) or not all(
            isinstance(layer, list) and len(layer) == 4 and isinstance(layer[2], str) for layer in layers
        ):
            raise CheckpointInvalid("architecture")


def _plain(value: object, depth: int = 0) -> bool:
    """JSON values only (what yaml.safe_load of a model YAML gives), not too deep."""
    if depth > 12:
        return False
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def rebuild(clean: CleanCheckpoint, path: Path) -> Path:
    """In the worker: build the Ultralytics model from the architecture (under Ultralytics' restricted
    loading, which names only model layers and evaluates nothing), load the weights into it and save it
    as an Ultralytics checkpoint at `path`, loadable by YOLO() for fine-tuning."""
    import copy

    import torch
    from ultralytics import __version__
    from ultralytics.nn.tasks import ClassificationModel, DetectionModel, SegmentationModel

    from linesight_training.offline import require_safe_loading

    require_safe_loading()
    kind = {"detect": DetectionModel, "segment": SegmentationModel, "classify": ClassificationModel}[
        clean.task
    ]
    channels = clean.architecture.get("channels", clean.architecture.get("ch", 3))
    try:
        model = kind(
            cfg=copy.deepcopy(clean.architecture), ch=int(channels), nc=len(clean.names), verbose=False
        )
        model.load_state_dict(clean.state_dict, strict=True)
    except Exception as exc:
        raise CheckpointInvalid("the weights do not fit the architecture") from exc
    model.names = dict(enumerate(clean.names))
    model.args = {"task": clean.task, "imgsz": clean.imgsz}
    checkpoint = {
        "date": dt.datetime.now(dt.UTC).isoformat(),
        "version": __version__,
        "epoch": -1,
        "best_fitness": None,
        "model": model.half(),
        "ema": None,
        "updates": None,
        "optimizer": None,
        "train_args": {"task": clean.task, "imgsz": clean.imgsz},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path
