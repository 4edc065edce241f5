"""Segment training in the worker's library with real Ultralytics, offline, on synthetic cracks and spots:
per-epoch reports with the mask figures, the sandboxed .pt conversion (clean checkpoint, ONNX export)
that the registry takes as a segment model, and the evaluation on the test split (box and mask mAP, per-class precision and recall, pixel IoU and Dice)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.segment_data import (
    SEGMENT_CLASSES,
    draw_surface,
    segment_label_lines,
    write_segment_splits,
)
from tests.support.yolo_models import _narrow_seg_yaml

pytestmark = pytest.mark.integration

IMGSZ = 96
PHOTO = (160, 120)  # small plates: the cracks stay a few pixels wide at IMGSZ
SEGMENT_LOSSES = {"box_loss", "seg_loss", "cls_loss", "dfl_loss", "sem_loss"}
MASK_METRICS = {"mask_precision", "mask_recall", "mask_mAP50", "mask_mAP50-95"}
BOX_METRICS = {"box_precision", "box_recall", "box_mAP50", "box_mAP50-95"}


@pytest.fixture(scope="module")
def segment_data(tmp_path_factory) -> Path:
    """Laid out as the registry exports it: data.yaml with `path: .`, and a test split."""
    root = tmp_path_factory.mktemp("segment-data")
    return write_segment_splits(root, {"train": 16, "val": 4, "test": 6}, seed=5, size=PHOTO)


@pytest.fixture(scope="module")
def segment_run(ultralytics_dirs, segment_data, tmp_path_factory):
    from linesight_training.trainer import TrainSpec, train

    work = tmp_path_factory.mktemp("segment-run")
    cfg = work / "yolov8n-seg-narrow.yaml"  # YOLOv8n-seg at half its width: the smallest that learns here
    cfg.write_text(_narrow_seg_yaml(0.125))
    reports = []
    spec = TrainSpec(
        task="segment",
        data=segment_data,
        workdir=work / "run",
        architecture=str(cfg),
        epochs=3,
        imgsz=IMGSZ,
        batch=8,
    )
    result = train(spec, on_epoch=lambda report: reports.append(report) and False)
    return result, reports


def test_train_segment_reports_box_and_mask_figures_every_epoch(segment_run):
    result, reports = segment_run
    assert [r.epoch for r in reports] == [1, 2, 3]
    for report in reports:
        assert set(report.losses) == SEGMENT_LOSSES
        assert all(math.isfinite(v) and v >= 0 for v in report.losses.values())
        assert set(report.metrics) == MASK_METRICS | BOX_METRICS
        assert all(0.0 <= v <= 1.0 for v in report.metrics.values())
    assert result.best_pt.is_file() and result.epochs_run == 3
    assert set(result.final_metrics) == MASK_METRICS | BOX_METRICS


def test_a_detect_architecture_is_not_trained_on_a_segment_dataset(ultralytics_dirs, segment_data, tmp_path):
    from linesight_training.trainer import TrainSpec, train

    spec = TrainSpec(task="segment", data=segment_data, workdir=tmp_path, architecture="yolov8n.yaml")
    with pytest.raises(ValueError, match="is a detect model, not a segment model"):
        train(spec)


def test_a_segment_pt_converts_is_evaluated_on_the_test_split_and_taken_by_the_registry(
    segment_run, segment_data, tmp_path
):
    """The .pt is converted as an upload would be (sandboxed child: clean checkpoint, ONNX export); the
    rebuilt weights are the trained ones, and the ONNX is a segment model to the registry's checks."""
    import torch
    from ultralytics import YOLO

    from linesight_registry.domain.onnx_artifact import inspect_onnx
    from linesight_training.convert import convert_pt_isolated
    from linesight_training.evaluation import evaluate, pick_split

    best = segment_run[0].best_pt
    converted = convert_pt_isolated(best, out_dir=tmp_path / "model")
    assert converted.info == {"task": "segment", "names": SEGMENT_CLASSES, "imgsz": IMGSZ}
    original = YOLO(str(best)).model.state_dict()
    rebuilt = YOLO(str(converted.weights)).model.state_dict()
    assert original.keys() == rebuilt.keys()
    assert all(torch.allclose(original[k].float(), rebuilt[k].float(), atol=1e-3) for k in original)
    onnx_path = converted.onnx
    info = inspect_onnx(str(onnx_path))
    assert info.task == "segment" and info.mask_prototypes == 32
    assert info.class_names == {"0": "crack", "1": "spot"} and info.imgsz == [IMGSZ, IMGSZ]

    assert pick_split("segment", segment_data) == "test"
    ev = evaluate(
        onnx_path, task="segment", data=segment_data, split="test", imgsz=IMGSZ, out_dir=tmp_path / "ev"
    )
    assert ev.split == "test" and ev.images == 6
    assert set(ev.metrics) == MASK_METRICS | BOX_METRICS | {"pixel_iou", "dice"}
    assert all(0.0 <= v <= 1.0 for v in ev.metrics.values()), ev.metrics
    # Both pixel figures come from the same pixel counts over the split: Dice = 2 IoU / (1 + IoU).
    iou = ev.metrics["pixel_iou"]
    assert ev.metrics["dice"] == pytest.approx(2 * iou / (1 + iou))
    labels = [
        int(line.split()[0])
        for f in (segment_data.parent / "labels" / "test").glob("*.txt")
        for line in f.read_text().splitlines()
    ]
    assert sum(row["instances"] for row in ev.per_class.values()) == len(labels)
    for name, row in ev.per_class.items():
        assert row["instances"] == labels.count(SEGMENT_CLASSES.index(name))
        assert all(0.0 <= v <= 1.0 for k, v in row.items() if k != "instances"), row
        assert {"mask_precision", "mask_recall", "box_precision", "box_recall", "dice"} <= set(row)
    assert set(ev.plots) == {"confusion_matrix", "pr_curve", "mask_pr_curve", "test_samples"}
    for plot in ev.plots.values():
        with Image.open(plot) as img:
            assert img.format == "PNG"
    assert json.loads(json.dumps(ev.to_json()))["plots"]["mask_pr_curve"] == "mask_pr_curve.png"


def test_pixel_figures_measure_the_labelled_pixels(tmp_path):
    """The true masks rasterised from the label files are the pixels drawn, and a prediction that misses
    the defects on the left half of each photo scores the share it found as IoU, and Dice accordingly."""
    from linesight_training.segment_evaluation import PixelCounts, true_masks

    rng = random.Random(11)
    counts = PixelCounts()
    for n in range(4):
        img, instances = draw_surface(rng, size=PHOTO)
        label = tmp_path / f"{n}.txt"
        label.write_text("\n".join(segment_label_lines(instances, img.size)))
        masks = true_masks(label, (PHOTO[1], PHOTO[0]), len(SEGMENT_CLASSES))
        drawn = np.zeros_like(masks)
        for inst in instances:
            drawn[inst.cls] |= inst.mask > 0
        overlap = (masks & drawn).sum() / (masks | drawn).sum()
        assert overlap > 0.9
        half = drawn.any(0).copy()
        half[:, : PHOTO[0] // 2] = False  # the left half of the photo is missed
        counts.add(-1, half & drawn.any(0), drawn.any(0))
    found, true = counts.intersection[-1], counts.true[-1]
    assert counts.iou(-1) == pytest.approx(found / true)
    assert counts.dice(-1) == pytest.approx(2 * found / (found + true))
    assert 0.0 < counts.iou(-1) < 1.0
    assert PixelCounts().iou(0) == PixelCounts().dice(0) == 1.0  # nothing labelled, nothing found
