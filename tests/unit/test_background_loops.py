"""A periodic background loop outlives a failing round: the failure is logged and counted in the one
failures metric, the next round runs, and only cancelling the task ends the loop. The readiness answer
is the same for the app factory and the ops server."""

import asyncio
import logging

import pytest
from prometheus_client import REGISTRY

from linesight_core.app import readiness_answer
from linesight_core.background import run_every


def failures(loop: str) -> float:
    return REGISTRY.get_sample_value("linesight_background_loop_failures_total", {"loop": loop}) or 0.0


def test_a_failing_round_is_counted_logged_and_the_loop_goes_on(caplog):
    rounds: list[int] = []

    async def one_round() -> None:
        rounds.append(len(rounds))
        if len(rounds) in (1, 3):
            raise ConnectionError("database is down")

    async def main() -> None:
        task = asyncio.create_task(
            run_every(
                "unit_flaky", 0, one_round, failed="unit round failed", logger=logging.getLogger("unit.loop")
            )
        )
        while len(rounds) < 5:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    before = failures("unit_flaky")
    with caplog.at_level(logging.ERROR, logger="unit.loop"):
        asyncio.run(main())
    assert len(rounds) >= 5
    assert failures("unit_flaky") - before == 2
    logged = [r for r in caplog.records if r.name == "unit.loop"]
    assert [r.getMessage() for r in logged] == ["unit round failed"] * 2
    assert all(r.exc_info and isinstance(r.exc_info[1], ConnectionError) for r in logged)


def test_the_failures_series_exists_before_any_failure():
    async def main() -> None:
        started = asyncio.Event()

        async def one_round() -> None:
            started.set()

        task = asyncio.create_task(run_every("unit_quiet", 3600, one_round, failed="never"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert (
        REGISTRY.get_sample_value("linesight_background_loop_failures_total", {"loop": "unit_quiet"}) == 0.0
    )


def test_readiness_answer_names_what_failed():
    status, body = readiness_answer(
        "svc", {"database": {"ok": True}, "redis": {"ok": False}, "s3": {"ok": False}}
    )
    assert status == 503
    assert body["failed"] == ["redis", "s3"]
    assert body["detail"] == "Not ready: redis, s3 did not answer."
    assert body["type"] == "https://linesight.dev/problems/unavailable"
    assert body["service"] == "svc"
    status, body = readiness_answer("svc", {"database": {"ok": True, "ms": 1.0}})
    assert (status, body) == (
        200,
        {"status": "ready", "service": "svc", "checks": {"database": {"ok": True, "ms": 1.0}}},
    )
