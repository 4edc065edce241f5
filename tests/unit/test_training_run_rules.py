"""The rules of a training run without servers: who may start it, when its worker counts as gone, and
which new versions beat production."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from linesight_core.contracts.training import EpochProgress, RunFinish, TrainingRunCreate
from linesight_registry.db.models import TrainingRun
from linesight_registry.domain.training import decide, higher_is_better, start, sweep_reason

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def running(**fields: object) -> TrainingRun:
    run = TrainingRun(
        id=uuid.uuid4(),
        kind="train",
        status="running",
        attempt=1,
        worker="node-a",
        task_id="task-1",
        time_limit_seconds=3600,
        attempt_started_at=NOW - timedelta(minutes=10),
        heartbeat_at=NOW - timedelta(seconds=30),
        error="",
    )
    for key, value in fields.items():
        setattr(run, key, value)
    return run


def evaluation(challenger: float | None, champion: float | None, version: int | None = 3) -> dict:
    return {
        "split": "test",
        "challenger": {"metrics": {} if challenger is None else {"mAP50-95": challenger, "ece": challenger}},
        "champion": None
        if champion is None
        else {"version": version, "metrics": {"mAP50-95": champion, "ece": champion}},
    }


def test_no_champion_means_staging_and_production_only_when_asked():
    first = decide(evaluation(0.4, None), "mAP50-95", production_version=None, auto_promote=False)
    assert (first.stage, first.promote, first.outcome) == (True, False, "staged")
    auto = decide(evaluation(0.4, None), "mAP50-95", production_version=None, auto_promote=True)
    assert (auto.stage, auto.promote, auto.outcome) == (True, True, "promoted")


@pytest.mark.parametrize(
    ("challenger", "champion", "staged"), [(0.51, 0.50, True), (0.50, 0.50, False), (0.49, 0.50, False)]
)
def test_the_challenger_must_be_strictly_better(challenger, champion, staged):
    decision = decide(evaluation(challenger, champion), "mAP50-95", production_version=3, auto_promote=True)
    assert (decision.stage, decision.promote) == (staged, staged)
    assert "production v3" in decision.reason


def test_lower_is_better_for_calibration_error_and_losses():
    assert not higher_is_better("ece") and not higher_is_better("val/box_loss")
    assert higher_is_better("accuracy") and higher_is_better("mAP50-95")
    assert decide(evaluation(0.02, 0.05), "ece", production_version=3, auto_promote=False).stage
    assert not decide(evaluation(0.08, 0.05), "ece", production_version=3, auto_promote=False).stage


def test_no_comparison_without_numbers_for_both_or_against_an_old_champion():
    missing = decide(evaluation(None, 0.5), "mAP50-95", production_version=3, auto_promote=True)
    assert (missing.stage, missing.outcome) == (False, "not_compared")
    unevaluated = decide(evaluation(0.9, None), "mAP50-95", production_version=3, auto_promote=True)
    assert (unevaluated.stage, unevaluated.outcome) == (False, "not_compared")
    moved = decide(evaluation(0.9, 0.5, version=2), "mAP50-95", production_version=3, auto_promote=True)
    assert not moved.stage and "production is now v3" in moved.reason
    text = decide(
        {"challenger": {"metrics": {"mAP50-95": "0.9"}}},
        "mAP50-95",
        production_version=None,
        auto_promote=False,
    )
    assert not text.stage


def test_start_takes_over_only_a_silent_run_and_gives_up_after_the_last_attempt():
    run = running()
    assert "running on node-a" in start(
        run, "node-b", "task-1", now=NOW, heartbeat_timeout=120, max_attempts=3
    )
    assert start(run, "node-b", "other-task", now=NOW, heartbeat_timeout=120, max_attempts=3) is not None
    silent = running(heartbeat_at=NOW - timedelta(minutes=5))
    assert start(silent, "node-b", "task-1", now=NOW, heartbeat_timeout=120, max_attempts=3) is None
    assert (silent.attempt, silent.worker, silent.heartbeat_at) == (2, "node-b", NOW)
    last = running(attempt=3, heartbeat_at=NOW - timedelta(minutes=5))
    refusal = start(last, "node-b", "task-1", now=NOW, heartbeat_timeout=120, max_attempts=3)
    assert refusal is not None and last.status == "failed" and "gave up after 3 attempts" in last.error
    for status in ("succeeded", "failed", "cancelled"):
        assert start(
            running(status=status), "node-a", "task-1", now=NOW, heartbeat_timeout=120, max_attempts=3
        )


def test_sweep_reason_names_the_silent_worker_or_the_time_limit():
    assert sweep_reason(running(), now=NOW, heartbeat_timeout=120, grace_seconds=300) is None
    silent = running(heartbeat_at=NOW - timedelta(minutes=3))
    reason = sweep_reason(silent, now=NOW, heartbeat_timeout=120, grace_seconds=300)
    assert reason == "the worker stopped sending heartbeats at 2026-12-01T11:57:00Z (worker node-a)"
    late = running(attempt_started_at=NOW - timedelta(seconds=3600 + 301))
    assert sweep_reason(late, now=NOW, heartbeat_timeout=120, grace_seconds=300).startswith(
        "time limit exceeded"
    )
    assert sweep_reason(running(status="queued"), now=NOW, heartbeat_timeout=1, grace_seconds=0) is None


def test_the_create_contract():
    run = TrainingRunCreate(dataset="d", dataset_version=1, model_name="m", architecture="yolo11n")
    assert run.architecture == "yolo11n.yaml"
    assert (run.epochs, run.imgsz, run.time_limit_seconds, run.auto_promote) == (100, 640, 6 * 3600, False)
    for bad in (
        {"architecture": "yolo11n.yaml", "base_model": "m", "base_version": 1},
        {},
        {"base_version": 1, "architecture": "yolo11n.yaml"},
        {"architecture": "yolo11n.yaml", "imgsz": 650},
        {"architecture": "yolo11n.pt"},
        {"architecture": "yolo11n.yaml", "time_limit_seconds": 8 * 24 * 3600},
    ):
        with pytest.raises(ValidationError):
            TrainingRunCreate(dataset="d", dataset_version=1, model_name="m", **bad)
    epoch = EpochProgress(epoch=1, epochs=2, losses={"box": float("inf")}, elapsed_s=1)
    assert epoch.losses == {"box": None}
    with pytest.raises(ValidationError):
        RunFinish(status="succeeded")
