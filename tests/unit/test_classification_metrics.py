"""The classify evaluation's figures on hand-checked examples: accuracy, top-k, macro F1, expected
calibration error, the confusion matrix, and its plots."""

import numpy as np
import pytest
from PIL import Image

from linesight_training.evaluation import (
    classification_metrics,
    expected_calibration_error,
    plot_confusion_matrix,
    plot_reliability_diagram,
)

PROBS = np.array([[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]])
TRUTH = np.array([0, 1, 1, 2])


def test_metrics_on_a_hand_checked_example():
    metrics, per_class, matrix = classification_metrics(PROBS, TRUTH, ["a", "b", "c"])
    assert matrix.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]  # rows true, columns predicted
    assert metrics["accuracy"] == metrics["top1_accuracy"] == 0.75
    assert metrics["top5_accuracy"] == 1.0  # k = min(5, 3 classes)
    assert per_class["a"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert per_class["b"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert per_class["c"] == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1})
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    # one image per bin: |1-0.9| + |0-0.6| + |1-0.7| + |1-0.4|, over 4 images
    assert metrics["ece"] == pytest.approx((0.1 + 0.6 + 0.3 + 0.6) / 4)


def test_top_k_stops_at_five():
    probs = np.array([[0.3, 0.25, 0.2, 0.1, 0.1, 0.05], [0.3, 0.25, 0.2, 0.1, 0.1, 0.05]])
    metrics, _, _ = classification_metrics(probs, np.array([4, 5]), list("abcdef"))
    assert metrics["top5_accuracy"] == 0.5 and metrics["accuracy"] == 0.0


def test_macro_f1_leaves_out_classes_absent_from_truth_and_predictions():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]])
    metrics, per_class, _ = classification_metrics(probs, np.array([0, 1]), ["a", "b", "never"])
    assert metrics["macro_f1"] == 1.0
    assert per_class["never"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_calibrated_and_overconfident_models():
    calibrated = np.tile([0.8, 0.2], (10, 1))
    assert expected_calibration_error(calibrated, np.array([0] * 8 + [1] * 2)) == pytest.approx(0.0, abs=1e-9)
    overconfident = np.tile([0.99, 0.01], (10, 1))
    assert expected_calibration_error(overconfident, np.array([0] * 5 + [1] * 5)) == pytest.approx(0.49)


def test_plots_are_pngs(tmp_path):
    _, _, matrix = classification_metrics(PROBS, TRUTH, ["a", "b", "c"])
    for path in (
        plot_confusion_matrix(matrix, ["a", "b", "c"], tmp_path / "cm.png"),
        plot_reliability_diagram(PROBS, TRUTH, tmp_path / "rel.png"),
    ):
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size[0] > 300
