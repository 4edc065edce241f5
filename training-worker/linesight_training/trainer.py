"""Trains a YOLO detect, segment or classify model with Ultralytics, offline, reporting every epoch to the
caller and stopping cleanly at an epoch end when the caller asks.

Ultralytics is imported inside the functions: `offline.configure_ultralytics` must have run first."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from linesight_core.contracts.training_defaults import TRAINING_DEFAULTS
from linesight_training.offline import require_safe_loading

log = logging.getLogger("linesight_training.trainer")

Task = Literal["detect", "segment", "classify"]
TASKS = ("detect", "segment", "classify")
YAML_TASKS = ("detect", "segment")  # datasets given as a data.yaml (YOLO labels); classify is folders

# Ultralytics' metric keys → the names the platform uses (EpochReport.metrics, TrainResult.final_metrics).
METRIC_NAMES: dict[str, dict[str, str]] = {
    "detect": {
        "metrics/precision(B)": "precision",
        "metrics/recall(B)": "recall",
        "metrics/mAP50(B)": "mAP50",
        "metrics/mAP50-95(B)": "mAP50-95",
    },
    # Segment: boxes (B) and masks (M); the station's selection metric is mask_mAP50-95 by default.
    "segment": {
        "metrics/precision(B)": "box_precision",
        "metrics/recall(B)": "box_recall",
        "metrics/mAP50(B)": "box_mAP50",
        "metrics/mAP50-95(B)": "box_mAP50-95",
        "metrics/precision(M)": "mask_precision",
        "metrics/recall(M)": "mask_recall",
        "metrics/mAP50(M)": "mask_mAP50",
        "metrics/mAP50-95(M)": "mask_mAP50-95",
    },
    "classify": {"metrics/accuracy_top1": "accuracy", "metrics/accuracy_top5": "top5_accuracy"},
}
RUN_NAME = "train"  # Ultralytics' `name`: the run's files go to <workdir>/train


# Ultralytics accumulates gradients until 64 photos (`nbs`) before each optimizer step. On a dataset of a
# few hundred photos that is two or three steps an epoch: the segment demo's 146 training plates, 40
# epochs from scratch, took ~90 steps, and its model answered a 12 mm crack at confidence 0.1, under any
# station's threshold (mask mAP50 0.71 only ranks). Below SMALL_DATASET_IMAGES training photos every
# batch is a step (the recipe of the tests' models, tests/support/yolo_models.py); larger datasets keep
# Ultralytics' default.
ULTRALYTICS_NBS = 64
SMALL_DATASET_IMAGES = 2000


def nominal_batch(batch: int, train_images: int) -> int:
    """Ultralytics' `nbs` for a run: photos per optimizer step."""
    return batch if train_images < SMALL_DATASET_IMAGES else max(batch, ULTRALYTICS_NBS)


def train_images(task: str, data: Path) -> int:
    """Photos in the training split (`data`: data.yaml for detect and segment, the root for classify)."""
    from linesight_training.evaluation import images_in, split_folder

    folder = split_folder(data, "train") if task in YAML_TASKS else data / "train"
    return sum(1 for _ in images_in(folder)) if folder is not None and folder.is_dir() else 0


@dataclass(frozen=True)
class TrainSpec:
    task: Task
    data: Path  # detect, segment: path to data.yaml; classify: the dataset root (train/ val/ test/ folders)
    workdir: Path  # this run's own folder; Ultralytics' project/name go under it
    architecture: str | None = "yolov8n.yaml"  # a model YAML Ultralytics ships (no weights downloaded)
    weights: Path | None = None  # fine-tune from this .pt instead (loaded in weights_only mode)
    epochs: int = TRAINING_DEFAULTS.epochs
    imgsz: int = TRAINING_DEFAULTS.imgsz
    batch: int = TRAINING_DEFAULTS.batch
    seed: int = TRAINING_DEFAULTS.seed
    patience: int = TRAINING_DEFAULTS.patience
    device: str = "cpu"  # "cpu" or a CUDA index like "0"
    workers: int = 0  # dataloader workers (0 inside a Celery prefork child)


@dataclass(frozen=True)
class EpochReport:
    epoch: int  # 1-based
    epochs: int
    # training losses of the epoch: box_loss, cls_loss, dfl_loss (detect; segment adds seg_loss) or loss
    losses: dict[str, float]
    metrics: dict[str, float]  # validation after the epoch, names as in METRIC_NAMES
    elapsed_s: float  # since train() was called
    eta_s: float  # for the remaining epochs, at the mean pace so far


class Cancelled(Exception):
    """The caller's on_epoch asked to stop. Training stopped at the end of `epoch` (1-based); its weights
    up to that epoch are in `last_pt` (and the best of them in `best_pt`)."""

    def __init__(self, epoch: int, best_pt: Path | None = None, last_pt: Path | None = None) -> None:
        super().__init__(f"training cancelled after epoch {epoch}")
        self.epoch = epoch
        self.best_pt = best_pt
        self.last_pt = last_pt


@dataclass(frozen=True)
class TrainResult:
    best_pt: Path
    last_pt: Path
    epochs_run: int
    train_seconds: float
    stopped_early: bool  # Ultralytics' early stopping (no improvement for `patience` epochs) ended the run
    final_metrics: dict[str, float]  # best.pt on the val split, names as in METRIC_NAMES


def train(spec: TrainSpec, on_epoch: Callable[[EpochReport], bool] | None = None) -> TrainResult:
    """Train as `spec` says. `on_epoch` is called after every epoch's validation; returning True asks to
    stop: training stops at that epoch end (weights saved) and train() raises Cancelled. Exceptions from
    on_epoch propagate, ending the run."""
    check_dataset(spec.task, spec.data)
    if spec.epochs < 1 or spec.imgsz < 32 or spec.batch < 1:
        raise ValueError("epochs and batch must be at least 1, imgsz at least 32")
    started = time.monotonic()

    from ultralytics import YOLO

    if spec.weights is not None:
        if not spec.weights.is_file():
            raise FileNotFoundError(f"weights {spec.weights} do not exist")
        require_safe_loading()
        try:
            model = YOLO(str(spec.weights), task=spec.task)
        except TypeError as exc:  # Ultralytics: refused by weights_only loading, or not a checkpoint
            raise ValueError(f"{spec.weights.name} is not a loadable Ultralytics checkpoint: {exc}") from exc
    elif spec.architecture:
        if not spec.architecture.endswith((".yaml", ".yml")):
            raise ValueError(
                f"architecture {spec.architecture!r} is not a model YAML name such as yolov8n.yaml"
            )
        model = YOLO(spec.architecture, task=spec.task)
    else:
        raise ValueError("either architecture or weights is needed")
    # `task=` relabels whatever was loaded (a detect YAML would train as "segment" and fail in the loss):
    # the network itself says what it is.
    from ultralytics.nn.tasks import guess_model_task

    built = guess_model_task(getattr(model.model, "yaml", None) or model.model)
    if built != spec.task:
        source = spec.weights or spec.architecture
        raise ValueError(f"{source} is a {built} model, not a {spec.task} model")

    progress = _Progress(spec, started, on_epoch)
    model.add_callback("on_train_start", progress.on_train_start)
    model.add_callback("on_fit_epoch_end", progress.on_fit_epoch_end)
    spec.workdir.mkdir(parents=True, exist_ok=True)
    log.info(
        "training starts",
        extra={"task": spec.task, "model": str(spec.weights or spec.architecture), "epochs": spec.epochs},
    )
    data = resolve_data_yaml(spec.data) if spec.task in YAML_TASKS else spec.data
    model.train(
        data=str(data),
        epochs=spec.epochs,
        imgsz=spec.imgsz,
        batch=spec.batch,
        nbs=nominal_batch(spec.batch, train_images(spec.task, data)),
        seed=spec.seed,
        deterministic=True,
        patience=spec.patience,
        device=spec.device,
        workers=spec.workers,
        project=str(spec.workdir),
        name=RUN_NAME,
        exist_ok=True,
        plots=False,  # plots belong to the evaluation
        val=True,
        verbose=False,
        amp=_amp(spec.device),
    )
    trainer = model.trainer
    best, last = Path(trainer.best), Path(trainer.last)
    if progress.cancelled_at is not None:
        log.info("training cancelled", extra={"epoch": progress.cancelled_at})
        raise Cancelled(
            progress.cancelled_at, best if best.is_file() else None, last if last.is_file() else None
        )
    if not best.is_file():
        raise RuntimeError(f"training ended without saving {best}")
    final = clean_metrics(spec.task, trainer.metrics) or progress.last_metrics
    seconds = time.monotonic() - started
    result = TrainResult(
        best_pt=best,
        last_pt=last,
        epochs_run=progress.epochs_run,
        train_seconds=seconds,
        stopped_early=progress.epochs_run < spec.epochs,
        final_metrics=final,
    )
    log.info(
        "training finished", extra={"epochs_run": result.epochs_run, "seconds": round(seconds, 1), **final}
    )
    return result


class _Progress:
    """Ultralytics callbacks that turn the trainer's state into EpochReports and carry the caller's stop."""

    def __init__(
        self, spec: TrainSpec, started: float, on_epoch: Callable[[EpochReport], bool] | None
    ) -> None:
        self.spec = spec
        self.started = started
        self.on_epoch = on_epoch
        self.loop_started = started
        self.loop_done = False
        self.epochs_run = 0
        self.cancelled_at: int | None = None
        self.last_metrics: dict[str, float] = {}

    def on_train_start(self, trainer: Any) -> None:
        self.loop_started = time.monotonic()

    def on_fit_epoch_end(self, trainer: Any) -> None:
        # After the loop, Ultralytics validates best.pt once more and calls this event again: not an epoch.
        if self.loop_done:
            return
        epoch, epochs = trainer.epoch + 1, trainer.epochs
        now = time.monotonic()
        per_epoch = (now - self.loop_started) / max(1, epoch - trainer.start_epoch)
        losses = {
            key.removeprefix("train/"): float(value)
            for key, value in trainer.label_loss_items(trainer.tloss or {}, prefix="train").items()
        }
        self.last_metrics = clean_metrics(self.spec.task, trainer.metrics)
        report = EpochReport(
            epoch=epoch,
            epochs=epochs,
            losses=losses,
            metrics=self.last_metrics,
            elapsed_s=now - self.started,
            eta_s=per_epoch * max(0, epochs - epoch),
        )
        self.epochs_run = epoch
        log.info("epoch done", extra={"epoch": epoch, "epochs": epochs, **losses, **self.last_metrics})
        if self.on_epoch is not None and self.on_epoch(report):
            # The loop checks `stop` right after this event; best.pt and last.pt of this epoch are saved.
            trainer.stop = True
            self.cancelled_at = epoch
        if trainer.stop:
            self.loop_done = True


def clean_metrics(task: str, metrics: Mapping[str, Any] | None) -> dict[str, float]:
    """Ultralytics' metric dict with the platform's names, finite floats only."""
    names = METRIC_NAMES[task]
    out = {}
    for key, name in names.items():
        value = (metrics or {}).get(key)
        if value is not None and math.isfinite(float(value)):
            out[name] = float(value)
    return out


def check_dataset(task: str, data: Path) -> None:
    """Refuse what Ultralytics would misread or act on: a data.yaml with a `download` entry (Ultralytics runs it
    as a Python or shell script when an image folder is missing), a missing file or folder."""
    if task not in TASKS:
        raise ValueError(f"task {task!r} is not one of {', '.join(TASKS)}")
    if task in YAML_TASKS:
        if not data.is_file():
            raise FileNotFoundError(f"data.yaml {data} does not exist")
        content = yaml.safe_load(data.read_text(encoding="utf-8"))
        if not isinstance(content, dict) or "names" not in content:
            raise ValueError(f"{data} is not a YOLO data.yaml (no names)")
        if "download" in content:
            raise ValueError(
                f"{data} has a 'download' entry; datasets here are complete, nothing is downloaded"
            )
    elif not (data / "train").is_dir():
        raise FileNotFoundError(f"classify dataset {data} has no train/ folder")


def resolve_data_yaml(data: Path) -> Path:
    """A data.yaml Ultralytics reads as its author meant. Ultralytics resolves a relative `path:` against the
    current directory, so the `path: .` of the registry's exports would point wherever the worker runs; here
    it is the folder of data.yaml. Returns `data` itself when its path is absolute, else a resolved copy
    written beside it."""
    content = yaml.safe_load(data.read_text(encoding="utf-8"))
    root = content.get("path")
    if root and Path(root).is_absolute():
        return data
    base = data.parent.resolve()
    content["path"] = str((base / root).resolve() if root else base)
    resolved = data.with_name(f"{data.stem}.resolved.yaml")
    resolved.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return resolved


def _amp(device: str) -> bool | str:
    """Mixed precision only on CUDA, and as bf16 where the GPU has it: Ultralytics' fp16 AMP check first
    downloads yolo26n.pt, which this offline worker cannot and must not do."""
    if device == "cpu":
        return False
    import torch

    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else False
