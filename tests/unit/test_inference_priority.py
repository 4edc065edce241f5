"""The priority gate: a replay image waits while live images are in the service, at most `slots` replay
images run at once, one deferred long enough is let in anyway, and a full gate refuses."""

import asyncio

import pytest

from linesight_inference.domain.priority import GateFull, PriorityGate

pytestmark = pytest.mark.unit

LONG = 60.0  # a gate that waited this long would make the test hang, not pass


async def _enter(gate: PriorityGate, entered: list[str], name: str, hold: asyncio.Event) -> None:
    async with gate.replay():
        entered.append(name)
        await hold.wait()


def test_replay_waits_for_live_work_to_drain():
    async def scenario() -> None:
        gate = PriorityGate(slots=1, max_defer_s=LONG, max_waiting=8)
        gate.live_started(2)
        entered: list[str] = []
        hold = asyncio.Event()
        task = asyncio.create_task(_enter(gate, entered, "r", hold))
        await asyncio.sleep(0.05)
        assert entered == [] and gate.replay_waiting == 1
        gate.live_finished(1)
        await asyncio.sleep(0.05)
        assert entered == []  # one live image is still in the service
        gate.live_finished(1)
        await asyncio.wait_for(_until(lambda: entered == ["r"]), LONG)
        hold.set()
        await task
        assert gate.replay_running == 0

    asyncio.run(scenario())


def test_replay_slots_cap_concurrent_replays():
    async def scenario() -> None:
        gate = PriorityGate(slots=1, max_defer_s=LONG, max_waiting=8)
        entered: list[str] = []
        first, second = asyncio.Event(), asyncio.Event()
        t1 = asyncio.create_task(_enter(gate, entered, "a", first))
        await asyncio.wait_for(_until(lambda: entered == ["a"]), LONG)
        t2 = asyncio.create_task(_enter(gate, entered, "b", second))
        await asyncio.sleep(0.05)
        assert entered == ["a"] and gate.replay_running == 1
        first.set()
        await asyncio.wait_for(_until(lambda: entered == ["a", "b"]), LONG)
        second.set()
        await asyncio.gather(t1, t2)

    asyncio.run(scenario())


def test_a_deferred_replay_is_let_in_on_a_busy_line_and_a_full_gate_refuses():
    async def scenario() -> None:
        busy = PriorityGate(slots=1, max_defer_s=0.0, max_waiting=1)
        busy.live_started(1)  # the line never goes idle
        entered: list[str] = []
        hold = asyncio.Event()
        task = asyncio.create_task(_enter(busy, entered, "r", hold))
        await asyncio.wait_for(_until(lambda: entered == ["r"]), LONG)
        hold.set()
        await task

        full = PriorityGate(slots=1, max_defer_s=LONG, max_waiting=1)
        full.live_started(1)
        waiting = asyncio.create_task(_enter(full, [], "w", asyncio.Event()))
        await asyncio.wait_for(_until(lambda: full.replay_waiting == 1), LONG)
        with pytest.raises(GateFull):
            async with full.replay():
                pass
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert full.replay_waiting == 0

    asyncio.run(scenario())


async def _until(check) -> None:
    while not check():
        await asyncio.sleep(0.005)


def test_max_share_keeps_the_slot_closed_for_a_while_after_a_replay():
    async def scenario() -> None:
        gate = PriorityGate(slots=1, max_defer_s=LONG, max_waiting=8, max_share=0.5)
        async with gate.replay():
            await asyncio.sleep(0.05)  # the replay's work
        assert gate.replay_running == 1  # answered, but the slot rests as long as the work took
        entered: list[str] = []
        hold = asyncio.Event()
        hold.set()
        task = asyncio.create_task(_enter(gate, entered, "next", hold))
        await asyncio.sleep(0)
        assert entered == []
        await asyncio.wait_for(task, LONG)
        assert entered == ["next"]

    asyncio.run(scenario())
