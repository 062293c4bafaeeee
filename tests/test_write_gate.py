"""The SQLite write gate: one writer at a time, appends ahead of waiting transactions,
a cancelled waiter never keeps the gate, and a nested hold fails instead of hanging."""

from __future__ import annotations

import asyncio

import pytest

from hub.store.write_gate import WriteGate, holding_write_gate


async def _take(gate: WriteGate, name: str, order: list[str], *, first: bool = False) -> None:
    async with gate.hold(first=first):
        order.append(name)
        await asyncio.sleep(0.01)  # a transaction's awaits: nobody else may enter meanwhile
        order.append(name + " done")


async def test_an_append_goes_ahead_of_waiting_transactions_not_of_the_holder() -> None:
    gate = WriteGate()
    order: list[str] = []
    holder = asyncio.create_task(_take(gate, "holder", order))
    await asyncio.sleep(0)  # the holder is in
    waiting = [asyncio.create_task(_take(gate, f"tx{n}", order)) for n in range(2)]
    await asyncio.sleep(0)
    append = asyncio.create_task(_take(gate, "append", order, first=True))
    await asyncio.gather(holder, *waiting, append)
    assert order == [
        "holder",
        "holder done",
        "append",
        "append done",
        "tx0",
        "tx0 done",
        "tx1",
        "tx1 done",
    ]


async def test_a_cancelled_waiter_is_skipped() -> None:
    gate = WriteGate()
    order: list[str] = []
    holder = asyncio.create_task(_take(gate, "holder", order))
    await asyncio.sleep(0)
    gone = asyncio.create_task(_take(gate, "gone", order, first=True))
    later = asyncio.create_task(_take(gate, "later", order))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.gather(holder, later)
    assert gone.cancelled()
    assert order == ["holder", "holder done", "later", "later done"]


async def test_a_waiter_cancelled_as_it_is_handed_the_gate_passes_it_on() -> None:
    gate = WriteGate()
    order: list[str] = []
    async with gate.hold():
        unlucky = asyncio.create_task(_take(gate, "unlucky", order))
        await asyncio.sleep(0)  # waiting now
    unlucky.cancel()  # handed the gate on release, cancelled before it ran
    after = asyncio.create_task(_take(gate, "after", order))
    await asyncio.wait_for(after, 5)
    assert unlucky.cancelled()
    assert order == ["after", "after done"]


async def test_a_hold_inside_a_hold_fails_instead_of_waiting_for_itself() -> None:
    gate = WriteGate()
    order: list[str] = []
    async with gate.hold():
        assert holding_write_gate()
        with pytest.raises(RuntimeError, match="already held"):
            async with gate.hold(first=True):
                pass
        child = asyncio.create_task(_take(gate, "child", order))  # another task: it waits
        await asyncio.sleep(0)
        assert order == []
    assert not holding_write_gate()
    await asyncio.wait_for(child, 5)
    assert order == ["child", "child done"]
    async with gate.hold():  # the failed attempt left the gate free
        pass
