"""The shadow queue never grows past its bounds: past its count or its bytes a shadow job is dropped and
counted, never queued. And agreement of a live and a shadow answer."""

import asyncio
import uuid

import pytest

from linesight_gateway import metrics
from linesight_gateway.domain.shadow import ShadowConfig, ShadowJob, ShadowQueue, agrees
from linesight_gateway.domain.verdict import StationRules

pytestmark = pytest.mark.unit

RULES = StationRules(
    mode="detect", expected={"wrench": 1}, ok_classes=frozenset(), success=0.7, low_confidence=0.5
)


def job(station: str, size: int) -> ShadowJob:
    return ShadowJob(uuid.uuid4(), station, "m", "staging", RULES, {"verdict": "OK"}, b"x" * size)


def dropped(station: str) -> float:
    return metrics.SHADOW_ANSWERS.labels(station, "dropped")._value.get()


def test_a_full_queue_drops_and_counts_instead_of_growing():
    async def scenario() -> None:
        # No workers started: nothing leaves the queue but what the test takes.
        queue = ShadowQueue(None, None, ShadowConfig(concurrency=1, max_items=3, max_bytes=1000, timeout=1))  # type: ignore[arg-type]
        offered = [await queue.offer(job("q-count", 10)) for _ in range(5)]
        assert offered == [True, True, True, False, False]
        assert queue.waiting == 3 and dropped("q-count") == 2
        # Bytes bound (1000): with 600 bytes queued a 401-byte photo does not fit, a 400-byte one does.
        queue = ShadowQueue(None, None, ShadowConfig(concurrency=1, max_items=10, max_bytes=1000, timeout=1))  # type: ignore[arg-type]
        assert await queue.offer(job("q-bytes", 600))
        assert not await queue.offer(job("q-bytes", 401))
        assert await queue.offer(job("q-bytes", 400))
        assert not await queue.offer(job("q-bytes", 1))
        assert queue.waiting == 2 and dropped("q-bytes") == 2
        assert metrics.SHADOW_QUEUE_DEPTH._value.get() == 2

    asyncio.run(scenario())


def test_agreement_is_the_same_verdict_and_the_same_counts():
    ok = {"verdict": "OK", "counts": {"wrench": 1}}
    assert agrees(ok, {"verdict": "OK", "counts": {"wrench": 1}, "confidence": 0.4}, RULES)
    assert not agrees(ok, {"verdict": "NOK", "counts": {"wrench": 1}}, RULES)
    # an extra item the station does not expect, seen by one side only, is a disagreement
    assert not agrees(ok, {"verdict": "OK", "counts": {"wrench": 1, "tape": 1}}, RULES)
    assert not agrees(ok, {"verdict": "OK", "counts": {"wrench": 2}}, RULES)
    assert agrees({"verdict": "NOK", "counts": {}}, {"verdict": "NOK", "counts": {"wrench": 0}}, RULES)
