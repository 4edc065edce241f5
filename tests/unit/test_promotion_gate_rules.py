"""The promotion gate's rules on one replay report, without servers: too few verified inspections, a
candidate below production on verdict accuracy or NOK recall, ties, and a replay that met no truly NOK
item; and the refusal in words."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from linesight_gateway.db.models import ReplayJob
from linesight_gateway.domain.promotion_gate import GateVerdict, StationCheck, judge_replay

pytestmark = pytest.mark.unit


def side(accuracy: float | None, recall: float | None, n: int = 10) -> dict[str, Any]:
    return {"verified": n, "verdict_accuracy": accuracy, "nok_recall": recall, "false_nok_rate": 0.0}


def judged(candidate: dict[str, Any], production: dict[str, Any], *, minimum: int = 10) -> StationCheck:
    job = ReplayJob(
        id=uuid.uuid4(),
        result={"replayed": candidate["verified"], "candidate": candidate, "production": production},
    )
    check = StationCheck(uuid.uuid4(), "bench-3", minimum)
    judge_replay(check, job, production_version=7)
    return check


def test_a_tie_passes_and_a_lower_figure_fails_its_rule():
    assert judged(side(0.9, 0.8), side(0.9, 0.8)).failed_rules == []
    # ratios of the same counts computed another way still tie
    assert judged(side(0.1 + 0.2, 1.0), side(0.3, 1.0)).failed_rules == []
    assert judged(side(0.8, 0.8), side(0.9, 0.8)).failed_rules == ["verdict_accuracy"]
    assert judged(side(0.95, 0.5), side(0.9, 0.8)).failed_rules == ["nok_recall"]
    both = judged(side(0.5, 0.5, n=4), side(0.9, 0.8, n=4))
    assert both.failed_rules == ["too_few_verified", "verdict_accuracy", "nok_recall"]
    assert "replayed 4 verified inspections; the gate asks for at least 10" in both.reasons[0]
    assert "verdict accuracy 0.5 is below production v7's 0.9" in both.reasons[1]


def test_nok_recall_is_not_compared_when_no_item_was_truly_nok():
    assert judged(side(1.0, None), side(1.0, None)).failed_rules == []


def test_the_refusal_names_each_failed_station_and_the_way_out():
    verdict = GateVerdict("bench-tools", 4, 3, gated=True)
    verdict.checks = [judged(side(0.6, 1.0), side(1.0, 1.0)), judged(side(1.0, 1.0), side(1.0, 1.0))]
    assert not verdict.passed and verdict.all_failed_rules() == ["verdict_accuracy"]
    words = verdict.words()
    assert words.startswith(
        "The promotion gate refuses to move bench-tools production from version 3 to version 4. "
    )
    assert "At station bench-3: verdict accuracy 0.6 is below production v7's 1" in words
    assert "override_reason" in words
    figures = verdict.as_json()
    assert [s["passed"] for s in figures["stations"]] == [False, True]
    assert figures["stations"][0]["candidate"]["verdict_accuracy"] == 0.6
