"""Micro-batching: a lone request runs at once, concurrent ones share runs up to the batch size, images on
their way are waited for, a failure reaches exactly the requests it concerns, and closing drains."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from linesight_inference.domain.batching import Batcher, BatcherClosed, QueueFull

pytestmark = pytest.mark.unit

LONG_WAIT = 60.0  # a batcher that waited this long would make the test hang, not pass


class Recorder:
    """A batch function that records the batches it got; `gate` holds a run until the test releases it."""

    def __init__(self, fail_on: object = None) -> None:
        self.batches: list[list[object]] = []
        self.solo: list[bool] = []
        self.gate: threading.Event | None = None
        self.started = threading.Event()
        self.fail_on = fail_on
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def __call__(self, jobs: list[object], solo: bool) -> list[object]:
        self.solo.append(solo)
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.batches.append(list(jobs))
        self.started.set()
        if self.gate is not None:
            self.gate.wait(LONG_WAIT)
        with self._lock:
            self.running -= 1
        if "boom" in jobs:
            raise RuntimeError("the session failed")
        return [ValueError(f"bad {j}") if j == self.fail_on else f"out-{j}" for j in jobs]


@pytest.fixture
def executor():
    with ThreadPoolExecutor(4) as pool:
        yield pool


def make(run, executor, **kw) -> Batcher:
    opts = {"max_batch_size": 4, "max_wait_s": LONG_WAIT, "max_queue_depth": 100, **kw}
    return Batcher(run, executor=executor, **opts)


async def wait_started(rec: Recorder) -> None:
    while not rec.started.is_set():
        await asyncio.sleep(0.001)


def test_a_lone_request_on_an_idle_model_is_not_held_for_max_wait(executor):
    async def scenario():
        rec = Recorder()
        batcher = make(rec, executor)
        batcher.expect()
        result = await batcher.submit("a")
        await batcher.aclose()
        return rec, result

    rec, result = asyncio.run(scenario())
    assert result.value == "out-a"
    assert result.batch_size == 1
    assert result.queue_s < LONG_WAIT / 2
    assert rec.batches == [["a"]]
    assert rec.solo == [True]  # alone on the CPU: the run may use every core


def test_requests_arriving_while_the_session_is_busy_share_the_next_runs(executor):
    async def scenario():
        rec = Recorder()
        rec.gate = threading.Event()
        batcher = make(rec, executor)
        first = asyncio.ensure_future(batcher.submit("x0", expected=False))
        await wait_started(rec)  # x0 runs alone and holds the session
        rest = [asyncio.ensure_future(batcher.submit(f"x{i}", expected=False)) for i in range(1, 10)]
        await asyncio.sleep(0)
        assert batcher.depth == 9
        rec.gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.aclose()
        return rec, results

    rec, results = asyncio.run(scenario())
    assert [len(b) for b in rec.batches] == [1, 4, 4, 1]
    assert rec.solo == [True, False, False, True]  # only a batch with nothing behind it runs alone
    assert [r.value for r in results] == [f"out-x{i}" for i in range(10)]  # each gets its own answer
    assert [r.batch_size for r in results] == [1, 4, 4, 4, 4, 4, 4, 4, 4, 1]


def test_images_announced_as_on_their_way_are_waited_for(executor):
    async def scenario():
        rec = Recorder()
        batcher = make(rec, executor)
        batcher.expect(3)
        first = asyncio.ensure_future(batcher.submit("a"))
        await asyncio.sleep(0.01)
        assert rec.batches == []  # two more are coming: it waits for them
        second = asyncio.ensure_future(batcher.submit("b"))
        await asyncio.sleep(0)
        batcher.forget(1)  # the third failed to decode: nothing more to wait for
        await asyncio.gather(first, second)
        await batcher.aclose()
        return rec

    rec = asyncio.run(scenario())
    assert rec.batches == [["a", "b"]]


def test_max_wait_bounds_the_wait_for_announced_images(executor):
    async def scenario():
        rec = Recorder()
        batcher = make(rec, executor, max_wait_s=0.02)
        batcher.expect(2)
        result = await batcher.submit("a")  # the second never comes
        await batcher.aclose()
        return rec, result

    rec, result = asyncio.run(scenario())
    assert rec.batches == [["a"]]
    assert result.value == "out-a"


def test_a_failing_run_fails_its_batch_and_a_failing_image_only_itself(executor):
    async def scenario():
        rec = Recorder(fail_on="bad")
        rec.gate = threading.Event()
        batcher = make(rec, executor)
        blocker = asyncio.ensure_future(batcher.submit("first", expected=False))
        await wait_started(rec)
        mixed = [asyncio.ensure_future(batcher.submit(j, expected=False)) for j in ("ok", "bad", "ok2")]
        await asyncio.sleep(0)
        rec.gate.set()
        await blocker
        mixed_results = await asyncio.gather(*mixed, return_exceptions=True)
        boom = await asyncio.gather(
            batcher.submit("boom", expected=False),
            batcher.submit("fine", expected=False),
            return_exceptions=True,
        )
        await batcher.aclose()
        return mixed_results, boom

    mixed, boom = asyncio.run(scenario())
    assert mixed[0].value == "out-ok"
    assert isinstance(mixed[1], ValueError)
    assert mixed[2].value == "out-ok2"
    assert all(isinstance(r, RuntimeError) for r in boom)


def test_concurrent_batches_up_to_the_setting(executor):
    async def scenario():
        rec = Recorder()
        rec.gate = threading.Event()
        batcher = make(rec, executor, max_batch_size=2, max_concurrent_batches=2)
        jobs = [asyncio.ensure_future(batcher.submit(i, expected=False)) for i in range(6)]
        while len(rec.batches) < 2:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)
        in_flight = len(rec.batches)
        rec.gate.set()
        await asyncio.gather(*jobs)
        await batcher.aclose()
        return rec, in_flight

    rec, in_flight = asyncio.run(scenario())
    assert in_flight == 2  # two runs at once, not three
    assert rec.most_running == 2
    assert sorted(len(b) for b in rec.batches) == [2, 2, 2]


def test_a_full_queue_refuses_and_closing_drains(executor):
    async def scenario():
        rec = Recorder()
        rec.gate = threading.Event()
        batcher = make(rec, executor, max_queue_depth=3)
        batcher.expect(3)
        with pytest.raises(QueueFull):
            batcher.expect(1)
        jobs = [asyncio.ensure_future(batcher.submit(f"j{i}")) for i in range(3)]
        await wait_started(rec)
        batcher.close()  # what was submitted still runs
        with pytest.raises(BatcherClosed):
            batcher.expect(1)
        rec.gate.set()
        results = await asyncio.gather(*jobs)
        await batcher.aclose()
        return [r.value for r in results]

    assert asyncio.run(scenario()) == ["out-j0", "out-j1", "out-j2"]
