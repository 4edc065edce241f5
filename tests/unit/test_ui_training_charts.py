"""The Training page's metric charts and the station form's selection metrics know every task's figures:
a segment run reports box_ and mask_ metrics (no plain mAP50), and its chart must not come out empty."""

from __future__ import annotations

from datetime import UTC, datetime

from linesight_core.contracts.training import DEFAULT_SELECTION_METRIC, EpochRecord
from linesight_ui.station_forms import METRICS
from linesight_ui.tables import chart_metric_columns


def epoch(n: int, metrics: dict[str, float]) -> EpochRecord:
    return EpochRecord(
        epoch=n, epochs=3, losses={"seg_loss": 1.0}, metrics=metrics, elapsed_s=n * 10.0, at=datetime.now(UTC)
    )


def test_a_segment_run_charts_its_mask_and_box_map() -> None:
    figures = {
        "mask_mAP50": 0.3,
        "mask_mAP50-95": 0.1,
        "box_mAP50": 0.4,
        "box_mAP50-95": 0.2,
        "mask_precision": 0.5,
    }
    columns = chart_metric_columns([epoch(1, figures), epoch(2, figures)])
    assert columns[:2] == ["mask_mAP50", "mask_mAP50-95"]
    assert set(columns) == {"mask_mAP50", "mask_mAP50-95", "box_mAP50", "box_mAP50-95"}


def test_a_detect_run_still_charts_map() -> None:
    assert chart_metric_columns([epoch(1, {"mAP50": 0.4, "mAP50-95": 0.2, "precision": 0.6})]) == [
        "mAP50",
        "mAP50-95",
    ]


def test_every_tasks_default_selection_metric_can_be_picked_on_a_station() -> None:
    assert set(DEFAULT_SELECTION_METRIC.values()) <= set(METRICS)
