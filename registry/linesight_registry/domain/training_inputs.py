"""What a new run starts from, checked before it is queued: the dataset version, the target model, the
architecture and, for fine-tuning, the PyTorch weights of a registered version."""

from __future__ import annotations

import uuid
import zipfile
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from linesight_core.contracts.training import WEIGHTS_ARTIFACT
from linesight_core.errors import NotFound, Problem
from linesight_registry.db.models import Dataset, DatasetVersion, Model, TrainingRun
from linesight_registry.domain import catalog

# Ultralytics names model YAMLs for other tasks with these suffixes (yolov8n-seg.yaml, ...).
OTHER_TASK_SUFFIXES = ("-seg", "-pose", "-obb", "-cls")


@dataclass(frozen=True)
class DatasetVersionRef:
    id: uuid.UUID
    task: str
    class_names: list[str]


def dataset_version(session: Session, name: str, number: int, *, for_training: bool) -> DatasetVersionRef:
    dataset = session.scalar(select(Dataset).where(Dataset.name == name))
    if dataset is None:
        raise NotFound("dataset", name, by="name")
    version = session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.version == number
        )
    )
    if version is None:
        raise Problem(404, f"Dataset {name!r} has no version {number}; cut one with POST .../versions first.")
    splits = version.split_counts or {}
    if for_training and not splits.get("train"):
        raise Problem(422, f"Version {number} of dataset {name!r} has no images in the train split.")
    if not (splits.get("val") or splits.get("test")):
        raise Problem(
            422,
            f"Version {number} of dataset {name!r} has no images in the val or test split to evaluate on.",
        )
    return DatasetVersionRef(id=version.id, task=version.task, class_names=list(version.class_names))


def target_model(session: Session, name: str, task: str) -> Model:
    """The model the result is registered under, created with the dataset's task when it is new."""
    model = session.scalar(select(Model).where(Model.name == name))
    if model is None:
        return catalog.create_model(session, name, task, "Created by a training run")
    if model.task != task:
        raise Problem(
            422,
            f"Model {name!r} is a {model.task} model; the dataset is for {task}. Choose another model_name.",
        )
    return model


def check_architecture(architecture: str, task: str) -> None:
    stem = architecture.rsplit(".", 1)[0]
    suffix = next((s for s in OTHER_TASK_SUFFIXES if stem.endswith(s)), None)
    if task == "classify" and suffix != "-cls":
        raise Problem(
            422,
            f"{architecture!r} is not a classification architecture; a classify dataset needs a -cls model "
            "YAML such as yolov8n-cls.yaml or yolo11n-cls.yaml.",
        )
    if task == "segment" and suffix != "-seg":
        raise Problem(
            422,
            f"{architecture!r} is not a segmentation architecture; a segment dataset needs a -seg model YAML "
            "such as yolov8n-seg.yaml or yolo11n-seg.yaml.",
        )
    if task == "detect" and suffix is not None:
        raise Problem(
            422,
            f"{architecture!r} is a {suffix[1:]} architecture; a detect dataset needs a detection model YAML "
            "such as yolov8n.yaml or yolo11n.yaml.",
        )


def base_weights(session: Session, model_name: str, number: int, task: str) -> str:
    """The object key of the PyTorch weights behind a registered version: the weights its training run
    saved, or the checkpoint a conversion rebuilt from the upload (never the uploaded .pt itself, a
    pickle the worker must not open). ONNX uploads, and conversions made before the rebuild, have none."""
    model = catalog.get_model(session, model_name)
    version = catalog.get_version(session, model, number)
    if model.task != task:
        raise Problem(422, f"Model {model_name!r} is a {model.task} model; the dataset is for {task}.")
    run = None
    if version.training_run_id is not None:
        run = session.scalar(select(TrainingRun).where(TrainingRun.id == version.training_run_id))
    key = None
    if run is not None:
        key = run.artifacts.get(WEIGHTS_ARTIFACT)
    if not key:
        raise Problem(
            422,
            f"Version {number} of {model_name!r} has no PyTorch weights in the registry (it was uploaded as "
            "ONNX, or converted from a .pt before converted weights were kept: upload that .pt again); "
            "fine-tune a version made by a training run or a .pt upload, or give an architecture.",
        )
    return key


def check_torch_checkpoint(path: str) -> None:
    """A file torch.save wrote is a zip archive with a data.pkl inside. Only the zip directory is read
    here: the pickle itself is never opened outside the worker's sandbox."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        raise Problem(
            422,
            "The file is not a PyTorch checkpoint: torch.save (torch 1.6 and later) writes a zip archive "
            "with a data.pkl inside; re-save older checkpoints with a current torch.",
        ) from None
    if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        raise Problem(422, "The zip archive has no data.pkl: it is not a checkpoint written by torch.save.")
