"""Measures a model (the ONNX artifact or a .pt) on a dataset split, with plots: Ultralytics' validator for
detect and segment (segment adds pixel IoU and Dice: segment_evaluation.py), our own metrics on the model's probabilities for classify (calibration included).

Ultralytics is imported inside the functions: `offline.configure_ultralytics` must have run first."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from linesight_training.offline import require_safe_loading
from linesight_training.trainer import YAML_TASKS, check_dataset, resolve_data_yaml

log = logging.getLogger("linesight_training.evaluation")

IMAGE_SUFFIXES = {".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif"}
ECE_BINS = 15
VAL_DIR = "ultralytics-val"  # Ultralytics' own validation output, under out_dir
# Ultralytics' file names (utils/metrics.py) → ours
DETECT_PLOTS = {"confusion_matrix": "confusion_matrix.png", "pr_curve": "BoxPR_curve.png"}


@dataclass
class Evaluation:
    task: str
    split: str  # the split measured: the one asked for, or "val" when the dataset has none
    images: int
    metrics: dict[str, float]
    # detect: {name: {precision, recall, ap50, ap50_95, instances}} for the classes with instances in the
    # split; segment: the same for boxes (box_*) and masks (mask_*), with pixel_iou and dice; classify: {name: {precision, recall, f1, support}} for every class of the model
    per_class: dict[str, dict[str, float]]
    # rows: true class, columns: predicted class, in `labels` order (detect adds "background": a missed
    # object is counted in the background column, a detection of nothing in the background row)
    confusion_matrix: list[list[int]]
    labels: list[str]
    plots: dict[str, Path] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; plots by file name (they sit side by side in one folder)."""
        return {
            "task": self.task,
            "split": self.split,
            "images": self.images,
            "metrics": self.metrics,
            "per_class": self.per_class,
            "confusion_matrix": self.confusion_matrix,
            "labels": self.labels,
            "plots": {name: path.name for name, path in self.plots.items()},
        }


def pick_split(task: str, data: Path) -> str:
    """The split to evaluate on: "test" when the dataset has test images, else "val"."""
    return "test" if _has_images(task, data, "test") else "val"


def evaluate(
    model: Path, *, task: str, data: Path, split: str, imgsz: int, out_dir: Path, device: str = "cpu"
) -> Evaluation:
    """Measure `model` (ONNX or .pt) on `split` of `data` (data.yaml for detect and segment, the dataset root
    for classify), or on "val" when the dataset has no such split. Plots are written to `out_dir`. An ONNX
    model with a fixed input size is measured at that size, whatever `imgsz` says."""
    check_dataset(task, data)
    if not model.is_file():
        raise FileNotFoundError(f"model {model} does not exist")
    if model.suffix == ".pt":
        require_safe_loading()
    used = split if _has_images(task, data, split) else "val"
    out_dir.mkdir(parents=True, exist_ok=True)
    if task == "detect":
        result = _evaluate_detect(model, resolve_data_yaml(data), used, imgsz, out_dir, device)
    elif task == "segment":
        from linesight_training.segment_evaluation import evaluate_segment

        result = evaluate_segment(model, resolve_data_yaml(data), used, imgsz, out_dir, device)
    else:
        result = _evaluate_classify(model, data, used, imgsz, out_dir, device)
    log.info(
        "evaluated",
        extra={"model": model.name, "task": task, "split": used, "images": result.images, **result.metrics},
    )
    return result


def run_ultralytics_val(
    model: Path, *, task: str, data: Path, split: str, imgsz: int, out_dir: Path, device: str
) -> tuple[Any, Any]:
    """Ultralytics' validator on `split`, with its plots under out_dir/VAL_DIR: (its metrics, the validator)."""
    from ultralytics import YOLO

    yolo = YOLO(str(model), task=task)
    validators: list[Any] = []
    yolo.add_callback("on_val_end", validators.append)
    metrics = yolo.val(
        data=str(data),
        split=split,
        imgsz=imgsz,
        batch=1 if model.suffix == ".onnx" else 16,  # exported models may take one image at a time only
        rect=False,  # square letterbox for every format, so an ONNX and a .pt are measured alike
        plots=True,
        save_json=False,
        project=str(out_dir),
        name=VAL_DIR,
        exist_ok=True,
        device=device,
        workers=0,
        verbose=False,
    )
    return metrics, validators[-1]


def copy_plots(out_dir: Path, produced: dict[str, str]) -> dict[str, Path]:
    """Ultralytics' plots (ours → their file name under out_dir/VAL_DIR) copied to out_dir/<ours>.png."""
    plots = {}
    for ours, theirs in produced.items():
        source = out_dir / VAL_DIR / theirs
        if source.is_file():
            plots[ours] = Path(shutil.copyfile(source, out_dir / f"{ours}.png"))
        else:
            log.warning("ultralytics produced no plot", extra={"plot": theirs})
    return plots


def _evaluate_detect(
    model: Path, data: Path, split: str, imgsz: int, out_dir: Path, device: str
) -> Evaluation:
    metrics, validator = run_ultralytics_val(
        model, task="detect", data=data, split=split, imgsz=imgsz, out_dir=out_dir, device=device
    )
    names = dict(validator.names)
    box = metrics.box
    per_class = {}
    for i, c in enumerate(box.ap_class_index):
        precision, recall, ap50, ap50_95 = (float(x) for x in box.class_result(i))
        per_class[names[int(c)]] = {
            "precision": precision,
            "recall": recall,
            "ap50": ap50,
            "ap50_95": ap50_95,
            "instances": int(metrics.nt_per_class[int(c)]),
        }
    return Evaluation(
        task="detect",
        split=split,
        metrics={
            "mAP50": float(box.map50),
            "mAP50-95": float(box.map),
            "precision": float(box.mp),
            "recall": float(box.mr),
        },
        per_class=per_class,
        plots=copy_plots(out_dir, DETECT_PLOTS),
        **validator_counts(validator),
    )


def validator_counts(validator: Any) -> dict[str, Any]:
    """What an Ultralytics detect or segment validator counted: images, the confusion matrix (rows true,
    columns predicted, with "background") and its labels."""
    names = {int(k): str(v) for k, v in validator.names.items()}
    matrix = np.asarray(validator.confusion_matrix.matrix).T  # Ultralytics: rows predicted, columns true
    return {
        "images": len(validator.dataloader.dataset),
        "confusion_matrix": matrix.round().astype(int).tolist(),
        "labels": [names[i] for i in range(len(names))] + ["background"],
    }


def _evaluate_classify(
    model: Path, data: Path, split: str, imgsz: int, out_dir: Path, device: str
) -> Evaluation:
    probs, truth, names = classify_probabilities(model, data, split, imgsz, device)
    labels = [names[i] for i in range(len(names))]
    metrics, per_class, matrix = classification_metrics(probs, truth, labels)
    plots = {
        "confusion_matrix": plot_confusion_matrix(matrix, labels, out_dir / "confusion_matrix.png"),
        "reliability_diagram": plot_reliability_diagram(probs, truth, out_dir / "reliability_diagram.png"),
    }
    return Evaluation(
        task="classify",
        split=split,
        images=len(truth),
        metrics=metrics,
        per_class=per_class,
        confusion_matrix=matrix.tolist(),
        labels=labels,
        plots=plots,
    )


def classify_probabilities(
    model: Path, data: Path, split: str, imgsz: int, device: str, batch: int = 16
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """The model's class probabilities for every image of the split (N × classes), the true class indices
    and the model's class names. Images and preprocessing are Ultralytics' own (ClassificationDataset:
    folders matched to the model's classes by name, folders it lacks skipped, classify_transforms), so the
    figures agree with `YOLO(model).val()`."""
    import torch
    from ultralytics.cfg import get_cfg
    from ultralytics.data.dataset import ClassificationDataset
    from ultralytics.nn.autobackend import AutoBackend
    from ultralytics.utils.torch_utils import select_device

    backend = AutoBackend(model=str(model), device=select_device(device), verbose=False)
    task = getattr(backend, "task", None) or getattr(getattr(backend, "model", None), "task", None)
    if task != "classify":
        raise ValueError(f"{model.name} is a {task} model, not a classify model")
    size: int | list[int] = imgsz
    if backend.format != "pt" and not getattr(backend, "dynamic", False) and getattr(backend, "imgsz", None):
        size = list(backend.imgsz)  # a fixed-shape export takes its own size only
    names = {int(k): str(v) for k, v in backend.names.items()}
    args = get_cfg(overrides={"task": "classify", "imgsz": size, "cache": False, "fraction": 1.0})
    dataset = ClassificationDataset(
        root=str(data / split), args=args, augment=False, prefix=split, names=names
    )
    if len(dataset) == 0:
        raise ValueError(f"{data / split} has no images of the model's classes ({', '.join(names.values())})")
    backend.eval()
    probs, truth = [], []
    with torch.inference_mode():
        for start in range(0, len(dataset), batch):
            items = [dataset[i] for i in range(start, min(start + batch, len(dataset)))]
            images = torch.stack([item["img"] for item in items]).to(backend.device)
            out = backend(images)
            out = out[0] if isinstance(out, (list, tuple)) else out
            probs.append(out.float().cpu().numpy())
            truth.extend(int(item["cls"]) for item in items)
    return np.concatenate(probs), np.asarray(truth, dtype=int), names


def classification_metrics(
    probs: np.ndarray, truth: np.ndarray, labels: list[str]
) -> tuple[dict[str, float], dict[str, dict[str, float]], np.ndarray]:
    """Accuracy, top-k accuracy (k = min(5, classes)), macro F1 (over the classes that occur in the truth or
    the predictions, as scikit-learn does), expected calibration error; per-class figures; the confusion
    matrix (rows true, columns predicted)."""
    nc = probs.shape[1]
    predicted = probs.argmax(1)
    k = min(5, nc)
    top_k = np.argsort(-probs, axis=1)[:, :k]
    matrix = np.zeros((nc, nc), dtype=int)
    np.add.at(matrix, (truth, predicted), 1)
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for c, name in enumerate(labels):
        tp, support, predicted_c = matrix[c, c], matrix[c].sum(), matrix[:, c].sum()
        precision = tp / predicted_c if predicted_c else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(support),
        }
        if support or predicted_c:
            f1s.append(f1)
    accuracy = float((predicted == truth).mean())
    metrics = {
        "accuracy": accuracy,
        "top1_accuracy": accuracy,
        "top5_accuracy": float((top_k == truth[:, None]).any(1).mean()),
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "ece": expected_calibration_error(probs, truth),
    }
    return metrics, per_class, matrix


def _bins(probs: np.ndarray, truth: np.ndarray, bins: int = ECE_BINS) -> list[tuple[int, float, float]]:
    """(count, accuracy, mean confidence) per equal-width bin of the top probability; bin i holds
    confidences in (i/bins, (i+1)/bins], the first one 0 as well."""
    confidence = probs.max(1)
    correct = probs.argmax(1) == truth
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        out.append(
            (
                count,
                float(correct[mask].mean()) if count else 0.0,
                float(confidence[mask].mean()) if count else 0.0,
            )
        )
    return out


def expected_calibration_error(probs: np.ndarray, truth: np.ndarray, bins: int = ECE_BINS) -> float:
    n = len(truth)
    return (
        float(sum(count / n * abs(acc - conf) for count, acc, conf in _bins(probs, truth, bins)))
        if n
        else 0.0
    )


def plot_confusion_matrix(matrix: np.ndarray, labels: list[str], path: Path) -> Path:
    from matplotlib.figure import Figure

    n = len(labels)
    side = min(16.0, 3.0 + 0.5 * n)
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if n <= 30:
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(n):
            for j in range(n):
                color = "white" if matrix[i, j] > threshold else "black"
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", color=color, fontsize=9)
        ax.set_xticks(range(n), labels, rotation=90)
        ax.set_yticks(range(n), labels)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title("Confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def plot_reliability_diagram(probs: np.ndarray, truth: np.ndarray, path: Path, bins: int = ECE_BINS) -> Path:
    from matplotlib.figure import Figure

    stats = _bins(probs, truth, bins)
    width = 1.0 / bins
    lefts = np.arange(bins) * width
    counts = np.array([s[0] for s in stats])
    accuracy = np.array([s[1] for s in stats])
    confidence = np.array([s[2] for s in stats])
    ece = expected_calibration_error(probs, truth, bins)
    fig = Figure(figsize=(6, 7.5))
    top, bottom = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    filled = counts > 0
    top.bar(
        lefts[filled],
        accuracy[filled],
        width=width,
        align="edge",
        color="#3b75af",
        edgecolor="black",
        label="accuracy",
    )
    top.bar(
        lefts[filled],
        confidence[filled] - accuracy[filled],
        bottom=accuracy[filled],
        width=width,
        align="edge",
        color="#e8a33c",
        alpha=0.5,
        edgecolor="#b5651d",
        hatch="//",
        label="gap to confidence",
    )
    top.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("Accuracy")
    top.set_title(f"Reliability diagram (ECE {ece:.3f}, {len(truth)} images)")
    top.legend(loc="upper left")
    bottom.bar(lefts, counts, width=width, align="edge", color="#777777", edgecolor="black")
    bottom.set_xlabel("Confidence (top class probability)")
    bottom.set_ylabel("Images")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _has_images(task: str, data: Path, split: str) -> bool:
    if task in YAML_TASKS:
        folder = split_folder(data, split)
        return folder is not None and any(images_in(folder))
    return (data / split).is_dir() and any(images_in(data / split))


def split_folder(data_yaml: Path, split: str) -> Path | None:
    import yaml

    content = yaml.safe_load(data_yaml.read_text(encoding="utf-8")) or {}
    entry = content.get(split)
    if not isinstance(entry, str) or not entry:
        return None
    root = Path(content.get("path") or ".")
    root = root if root.is_absolute() else data_yaml.parent / root
    return root / entry


def images_in(folder: Path):
    return (p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
