"""The inspection's answer as the live route and the pending-inspection reprocessor both record it, and
the person detector's refusal when the gateway has none."""

import asyncio

import pytest

from linesight_core.errors import Unavailable
from linesight_gateway.db.models import Inspection, Station
from linesight_gateway.domain.inspections import record_answer
from linesight_gateway.domain.people import PeopleDetector, people_in
from tests.unit.test_verdict import det, prediction


def station() -> Station:
    return Station(
        name="bench-1",
        mode="detect",
        model_name="m",
        expected_items=[{"label": "wrench", "min_count": 1}],
        ok_classes=[],
        success_threshold=0.7,
        low_confidence_threshold=0.5,
        unusual_needs_review=False,
    )


def test_no_answer_leaves_the_inspection_pending_for_a_later_attempt():
    inspection = Inspection(model_name="m", status="pending", attempts=0)
    completed = record_answer(
        inspection, station(), None, "503: inference is down", timings={"inference": 5.0}
    )
    assert completed is False
    assert (inspection.status, inspection.attempts, inspection.error) == (
        "pending",
        1,
        "503: inference is down",
    )
    assert inspection.next_attempt_at is not None and inspection.verdict is None
    record_answer(inspection, station(), None, None, timings={})
    assert (inspection.attempts, inspection.error) == (2, "no answer")


def test_an_answer_completes_the_inspection_with_its_verdict_and_timings():
    inspection = Inspection(model_name="m", status="pending", attempts=1, error="503: earlier")
    answer = prediction([det("wrench", 0.95)])
    completed = record_answer(
        inspection, station(), answer, None, timings={"inference": 7.5, "reprocessed": 1}
    )
    assert completed is True
    assert (inspection.status, inspection.verdict, inspection.error) == ("completed", "OK", None)
    assert inspection.timings_ms["inference"] == 7.5 and inspection.timings_ms["reprocessed"] == 1
    assert inspection.next_attempt_at is None


def test_blurring_people_without_a_detector_is_refused_not_stored():
    none = PeopleDetector(model=None, alias="production", label="person", confidence=0.25, timeout=5.0)
    with pytest.raises(Unavailable) as refused:
        asyncio.run(people_in(None, none, b"photo"))  # type: ignore[arg-type]
    assert refused.value.status == 503
    assert "no person detector" in refused.value.detail and "not stored" in refused.value.detail
