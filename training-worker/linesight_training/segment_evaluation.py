"""Measures a segment model on a dataset split: Ultralytics' validator for box and mask mAP, precision and
recall, and pixel IoU and Dice computed here from the model's masks at the photos' own size against the
labelled polygons, the figures crack-segmentation work reports.

Ultralytics is imported inside the functions: `offline.configure_ultralytics` must have run first."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linesight_training.evaluation import (
    Evaluation,
    copy_plots,
    images_in,
    run_ultralytics_val,
    split_folder,
    validator_counts,
)

SEGMENT_PLOTS = {
    "confusion_matrix": "confusion_matrix.png",
    "pr_curve": "BoxPR_curve.png",
    "mask_pr_curve": "MaskPR_curve.png",
}
# Pixel figures count what a station would act on: the masks Ultralytics' predictor keeps by default.
PIXEL_CONF = 0.25
SAMPLE_IMAGES = 4  # test photos drawn with their true and predicted masks


@dataclass
class PixelCounts:
    """Pixels over a split, per class (index -1: any class, the defect area whatever its class)."""

    intersection: dict[int, int] = field(default_factory=dict)
    predicted: dict[int, int] = field(default_factory=dict)
    true: dict[int, int] = field(default_factory=dict)

    def add(self, cls: int, predicted: np.ndarray, true: np.ndarray) -> None:
        self.intersection[cls] = self.intersection.get(cls, 0) + int(np.count_nonzero(predicted & true))
        self.predicted[cls] = self.predicted.get(cls, 0) + int(np.count_nonzero(predicted))
        self.true[cls] = self.true.get(cls, 0) + int(np.count_nonzero(true))

    def iou(self, cls: int) -> float:
        inter, p, t = self.intersection.get(cls, 0), self.predicted.get(cls, 0), self.true.get(cls, 0)
        union = p + t - inter
        return inter / union if union else 1.0  # nothing labelled and nothing found: no pixel is wrong

    def dice(self, cls: int) -> float:
        inter, p, t = self.intersection.get(cls, 0), self.predicted.get(cls, 0), self.true.get(cls, 0)
        return 2 * inter / (p + t) if p + t else 1.0


def evaluate_segment(
    model: Path, data: Path, split: str, imgsz: int, out_dir: Path, device: str
) -> Evaluation:
    """`data` is a data.yaml with an absolute `path` (trainer.resolve_data_yaml)."""
    metrics, validator = run_ultralytics_val(
        model, task="segment", data=data, split=split, imgsz=imgsz, out_dir=out_dir, device=device
    )
    names = {int(k): str(v) for k, v in validator.names.items()}
    folder = split_folder(data, split)
    assert folder is not None  # evaluate() picked a split with images
    pixels, samples = pixel_counts(model, folder, names, imgsz, device)
    box, seg = metrics.box, metrics.seg
    per_class = {}
    for i, c in enumerate(box.ap_class_index):
        row: dict[str, float] = {}
        for prefix, side in (("box", box), ("mask", seg)):
            precision, recall, ap50, ap50_95 = (float(x) for x in side.class_result(i))
            row |= {
                f"{prefix}_precision": precision,
                f"{prefix}_recall": recall,
                f"{prefix}_ap50": ap50,
                f"{prefix}_ap50_95": ap50_95,
            }
        row |= {
            "instances": int(metrics.nt_per_class[int(c)]),
            "pixel_iou": pixels.iou(int(c)),
            "dice": pixels.dice(int(c)),
        }
        per_class[names[int(c)]] = row
    plots = copy_plots(out_dir, SEGMENT_PLOTS)
    if samples:
        plots["test_samples"] = plot_samples(samples, out_dir / "test_samples.png")
    return Evaluation(
        task="segment",
        split=split,
        metrics={
            "mask_mAP50": float(seg.map50),
            "mask_mAP50-95": float(seg.map),
            "mask_precision": float(seg.mp),
            "mask_recall": float(seg.mr),
            "box_mAP50": float(box.map50),
            "box_mAP50-95": float(box.map),
            "box_precision": float(box.mp),
            "box_recall": float(box.mr),
            "pixel_iou": pixels.iou(-1),
            "dice": pixels.dice(-1),
        },
        per_class=per_class,
        plots=plots,
        **validator_counts(validator),
    )


def pixel_counts(
    model: Path, folder: Path, names: dict[int, str], imgsz: int, device: str
) -> tuple[PixelCounts, list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]]:
    """Predicted and labelled mask pixels of every photo under `folder`, at the photo's own size, and the
    first few photos drawn for the samples plot: (RGB image, true mask, predicted mask, photo's IoU)."""
    from ultralytics import YOLO
    from ultralytics.data.utils import img2label_paths

    files = sorted(images_in(folder))
    yolo = YOLO(str(model), task="segment")
    counts = PixelCounts()
    samples = []
    results = yolo.predict(
        [str(f) for f in files],
        imgsz=imgsz,
        conf=PIXEL_CONF,
        retina_masks=True,  # masks at the photo's size, as the inference service answers them
        device=device,
        stream=True,
        verbose=False,
    )
    for label, result in zip(img2label_paths([str(f) for f in files]), results, strict=True):
        h, w = result.orig_shape
        true = true_masks(Path(label), (h, w), len(names))
        predicted = np.zeros_like(true)
        if result.masks is not None:
            masks = result.masks.data.cpu().numpy() > 0.5
            for cls, mask in zip(result.boxes.cls.cpu().numpy().astype(int), masks, strict=True):
                predicted[cls] |= mask[:h, :w]
        for cls in range(len(names)):
            counts.add(cls, predicted[cls], true[cls])
        any_true, any_predicted = true.any(0), predicted.any(0)
        counts.add(-1, any_predicted, any_true)
        if len(samples) < SAMPLE_IMAGES:
            photo = PixelCounts()
            photo.add(0, any_predicted, any_true)
            samples.append((result.orig_img[..., ::-1], any_true, any_predicted, photo.iou(0)))
    return counts, samples


def true_masks(label: Path, size: tuple[int, int], classes: int) -> np.ndarray:
    """classes × H × W booleans from a YOLO segmentation label file (none: a background photo)."""
    import cv2

    h, w = size
    masks = np.zeros((classes, h, w), dtype=np.uint8)
    lines = label.read_text(encoding="utf-8").splitlines() if label.is_file() else []
    for line in lines:
        fields = line.split()
        if len(fields) < 7:
            continue
        cls = int(fields[0])
        points = np.asarray(fields[1:], dtype=np.float64).reshape(-1, 2) * (w, h)
        cv2.fillPoly(masks[cls], [np.round(points).astype(np.int32)], 1)
    return masks.astype(bool)


def plot_samples(samples: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]], path: Path) -> Path:
    """Test photos with the true masks outlined in green and the predicted masks filled in red."""
    import cv2
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * len(samples), 3.6))
    for ax, (rgb, true, predicted, iou) in zip(
        fig.subplots(1, len(samples), squeeze=False)[0], samples, strict=True
    ):
        drawn = rgb.copy()
        drawn[predicted] = (0.55 * drawn[predicted] + 0.45 * np.array([230, 40, 40])).astype(np.uint8)
        contours = cv2.findContours(true.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0]
        cv2.drawContours(drawn, contours, -1, (40, 220, 60), max(1, rgb.shape[0] // 160))
        ax.imshow(drawn)
        ax.set_title(f"pixel IoU {iou:.2f}")
        ax.axis("off")
    fig.suptitle("true masks (green outline), predicted masks (red)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path
