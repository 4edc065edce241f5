"""The line-quality alerts (monitoring/prometheus/rules/line-quality.yml) under `promtool test rules`:
each fires on a synthetic series that shows the problem and stays quiet on a normal one. The drift alerts
get eight days of samples (their baseline is the last seven), the others an hour.

Uses the real promtool (scripts/bootstrap.sh installs it with the `prometheus` package); no server runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

RULES = Path(__file__).resolve().parents[2] / "monitoring" / "prometheus" / "rules" / "line-quality.yml"
ALERTS = {
    "LineSightNokRateDrift",
    "LineSightConfidenceDrop",
    "LineSightLowConfidenceShareRising",
    "LineSightPendingInspectionsOld",
    "LineSightLabelReviewQueueOld",
    "LineSightTrainingRunFailed",
    "LineSightStationSilent",
    "LineSightUnusualPhotos",
}
STEP = 20  # minutes between samples of the drift tests: few enough for a fast test, several per hour
WEEK = 7 * 24 * 60 // STEP  # samples in 7 days
INSPECTIONS = "linesight_gateway_inspections_total"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(path).exists():
        pytest.fail("promtool is not installed; scripts/bootstrap.sh installs the `prometheus` package")
    return path


@pytest.fixture(scope="module")
def rules() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def series(metric: str, values: str, **labels: str) -> dict:
    body = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{body}}}", "values": values}


def expected(rules: dict[str, dict], name: str, **labels: str) -> dict:
    rule = rules[name]

    def render(template: str) -> str:
        return re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels[m.group(1)], template)

    return {
        "exp_labels": {**rule["labels"], **labels},
        "exp_annotations": {k: render(v) for k, v in rule["annotations"].items()},
    }


def inspections(station: str, verdict: str, values: str, status: str = "success") -> dict:
    return series(
        INSPECTIONS,
        values,
        job="gateway",
        station=station,
        verdict=verdict,
        confidence_status=status,
        model="bench",
        model_version="1",
    )


def steady_then(per_step: int, after: int, steps_after: int = 12) -> str:
    """A counter growing `per_step` per STEP minutes for 7 days, then `after` per STEP minutes."""
    return f"0+{per_step}x{WEEK} {per_step * WEEK + after}+{after}x{steps_after - 1}"


def run(promtool: str, tmp_path: Path, evaluation_interval: str, tests: list[dict]) -> None:
    path = tmp_path / "line_quality_test.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(RULES)],
                "evaluation_interval": evaluation_interval,
                # The alerts read the thresholds' and the rates' recording rules: without an order,
                # promtool evaluates the groups in a random order and an alert may see a stale value.
                "group_eval_order": [g["name"] for g in yaml.safe_load(RULES.read_text())["groups"]],
                "tests": tests,
            },
            sort_keys=False,
        )
    )
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"promtool test rules failed:\n{result.stdout}{result.stderr}"


def test_every_alert_has_a_runbook_and_a_test_here(rules):
    assert set(rules) == ALERTS
    for name, rule in rules.items():
        assert len(rule["annotations"].get("runbook", "")) > 80, f"{name}: no runbook text"
        assert "$value" not in str(rule["annotations"]), f"{name}: tests compare annotations exactly"


def test_drift_alerts_fire_on_a_drifting_station_and_stay_quiet_on_a_steady_one(promtool, rules, tmp_path):
    drift_at = f"{WEEK * STEP + 120}m"  # the last two hours drift
    normal = [
        # 300 inspections an hour, 4% NOK, mean confidence 0.9, 2% low confidence: for 7 days and after
        *[
            inspections(s, "OK", steady_then(48, 48))
            for s in ("steady", "nok-drift", "unsure", "low-conf", "first-nok")
        ],
        *[inspections(s, "NOK", steady_then(2, 2)) for s in ("steady", "unsure", "low-conf")],
        *[
            series(
                f"linesight_gateway_inspection_confidence_{part}", steady_then(n, n), job="gateway", station=s
            )
            for s in ("steady", "nok-drift", "low-conf")
            for part, n in (("sum", 45), ("count", 50))
        ],
        *[
            inspections(s, "OK", steady_then(1, 1), "low_confidence")
            for s in ("steady", "nok-drift", "unsure")
        ],
    ]
    drifting = [
        # nok-drift: NOK jumps from 2 to 20 per step (4% → 28%)
        inspections("nok-drift", "NOK", steady_then(2, 20)),
        # first-nok: never a NOK in 7 days (no series at all), then 20 per step
        inspections("first-nok", "NOK", f"_x{WEEK} 0+20x11"),
        # unsure: the mean confidence falls from 0.9 to 0.6
        series(
            "linesight_gateway_inspection_confidence_sum",
            steady_then(45, 30),
            job="gateway",
            station="unsure",
        ),
        series(
            "linesight_gateway_inspection_confidence_count",
            steady_then(50, 50),
            job="gateway",
            station="unsure",
        ),
        # low-conf: low-confidence answers jump from 1 to 30 per step (2% → 37%)
        inspections("low-conf", "OK", steady_then(1, 30), "low_confidence"),
    ]
    quiet = [
        inspections("nok-drift", "NOK", steady_then(2, 2)),
        series(
            "linesight_gateway_inspection_confidence_sum",
            steady_then(45, 45),
            job="gateway",
            station="unsure",
        ),
        series(
            "linesight_gateway_inspection_confidence_count",
            steady_then(50, 50),
            job="gateway",
            station="unsure",
        ),
        inspections("low-conf", "OK", steady_then(1, 1), "low_confidence"),
    ]
    drift_alerts = ("LineSightNokRateDrift", "LineSightConfidenceDrop", "LineSightLowConfidenceShareRising")
    fired = {
        "LineSightNokRateDrift": [
            expected(rules, "LineSightNokRateDrift", station="first-nok"),
            expected(rules, "LineSightNokRateDrift", station="nok-drift"),
        ],
        "LineSightConfidenceDrop": [expected(rules, "LineSightConfidenceDrop", station="unsure")],
        "LineSightLowConfidenceShareRising": [
            expected(rules, "LineSightLowConfidenceShareRising", station="low-conf")
        ],
    }
    run(
        promtool,
        tmp_path,
        f"{STEP}m",
        [
            {
                "interval": f"{STEP}m",
                "input_series": normal + drifting,
                "alert_rule_test": [
                    *[{"eval_time": drift_at, "alertname": a, "exp_alerts": fired[a]} for a in drift_alerts],
                ],
            },
            {
                "interval": f"{STEP}m",
                "input_series": normal + quiet,
                "alert_rule_test": [
                    {"eval_time": drift_at, "alertname": a, "exp_alerts": []} for a in drift_alerts
                ],
            },
        ],
    )


def test_queue_training_and_silence_alerts_fire_on_trouble_only(promtool, rules, tmp_path):
    gateway = {"job": "gateway"}
    trouble = [
        # stuck: the oldest pending photo ages by a minute every minute; flowing: answered within 30 s
        series("linesight_gateway_pending_oldest_age_seconds", "0+60x60", station="stuck", **gateway),
        series(
            "linesight_gateway_pending_oldest_age_seconds", "0 30 0 30 0 30x55", station="flowing", **gateway
        ),
        # the oldest label read ages ten minutes per minute (4 h are passed after 24 minutes)
        series("linesight_gateway_label_review_oldest_age_seconds", "0+600x60", **gateway),
        # one training run fails at minute 30
        series(
            "linesight_registry_training_runs_total",
            "0x30 1x30",
            job="registry",
            kind="train",
            status="failed",
        ),
        # quiet-line sent its last photo at minute 1; busy-line sends all the time
        series(
            "linesight_gateway_station_last_inspection_timestamp_seconds",
            "60x60",
            station="quiet-line",
            **gateway,
        ),
        series(
            "linesight_gateway_station_last_inspection_timestamp_seconds",
            "0+60x60",
            station="busy-line",
            **gateway,
        ),
    ]
    normal = [
        series(
            "linesight_gateway_pending_oldest_age_seconds", "0 30 0 30 0 30x55", station="stuck", **gateway
        ),
        # reviewers keep the queue under an hour
        series("linesight_gateway_label_review_oldest_age_seconds", "0+60x60", **gateway),
        series(
            "linesight_registry_training_runs_total", "0x60", job="registry", kind="train", status="failed"
        ),
        series(
            "linesight_registry_training_runs_total",
            "0x30 1x30",
            job="registry",
            kind="train",
            status="succeeded",
        ),
        series(
            "linesight_gateway_station_last_inspection_timestamp_seconds",
            "0+60x60",
            station="busy-line",
            **gateway,
        ),
        # a station unused for nine days is not "silent": it is not used any more
        series(
            "linesight_gateway_station_last_inspection_timestamp_seconds",
            "-777600x60",
            station="old-line",
            **gateway,
        ),
    ]
    alerts = sorted(
        ALERTS
        - {
            "LineSightNokRateDrift",
            "LineSightConfidenceDrop",
            "LineSightLowConfidenceShareRising",
            "LineSightUnusualPhotos",
        }
    )
    fired = {
        "LineSightPendingInspectionsOld": [
            expected(rules, "LineSightPendingInspectionsOld", station="stuck")
        ],
        "LineSightLabelReviewQueueOld": [expected(rules, "LineSightLabelReviewQueueOld")],
        "LineSightTrainingRunFailed": [expected(rules, "LineSightTrainingRunFailed", kind="train")],
        "LineSightStationSilent": [expected(rules, "LineSightStationSilent", station="quiet-line")],
    }
    run(
        promtool,
        tmp_path,
        "1m",
        [
            {
                "interval": "1m",
                "input_series": trouble,
                "alert_rule_test": [
                    # the first minutes: photos waited under 10 minutes, nothing failed, nobody silent yet
                    *[{"eval_time": "8m", "alertname": a, "exp_alerts": []} for a in alerts],
                    *[{"eval_time": "40m", "alertname": a, "exp_alerts": fired[a]} for a in alerts],
                ],
            },
            {
                "interval": "1m",
                "input_series": normal,
                "alert_rule_test": [{"eval_time": "40m", "alertname": a, "exp_alerts": []} for a in alerts],
            },
        ],
    )


def test_unusual_photo_alert_fires_on_a_moved_camera_not_on_a_stray_dark_photo(promtool, rules, tmp_path):
    def unusual(station: str, reason: str, values: str) -> dict:
        return series(
            "linesight_gateway_unusual_photos_total", values, job="gateway", station=station, reason=reason
        )

    # 5 photos a minute at each station; at "moved" 4 of them are flagged camera_moved from the start,
    # at "fine" one photo in ten minutes is too dark (2 %), and at "mixed" three reasons share 9 % each.
    input_series = [
        *[inspections(s, "OK", "0+5x60") for s in ("moved", "fine", "mixed")],
        unusual("moved", "camera_moved", "0+4x60"),
        unusual("fine", "too_dark", "0+0.1x60"),
        *[unusual("mixed", r, "0+0.45x60") for r in ("too_dark", "blurred", "camera_moved")],
    ]
    run(
        promtool,
        tmp_path,
        "1m",
        [
            {
                "interval": "1m",
                "input_series": input_series,
                "alert_rule_test": [
                    {"eval_time": "8m", "alertname": "LineSightUnusualPhotos", "exp_alerts": []},
                    {
                        "eval_time": "40m",
                        "alertname": "LineSightUnusualPhotos",
                        "exp_alerts": [expected(rules, "LineSightUnusualPhotos", station="moved")],
                    },
                ],
            }
        ],
    )
