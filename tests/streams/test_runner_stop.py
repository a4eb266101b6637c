"""A watch loop ends when it is cancelled, even when the cancellation arrives in the
same turn of the event loop as the message it was waiting for (a busy book stream).
Python 3.11's asyncio.wait_for swallowed that cancellation, and the loop kept the
stream runner from stopping."""

from __future__ import annotations

import asyncio

import pytest

from trading.streams.runner import StreamRunner, StreamSettings

pytestmark = pytest.mark.timeout(30)  # the loop that did not stop spins forever


def _runner() -> StreamRunner:
    return StreamRunner(
        exchange=None,  # the watch loop never reaches the exchange
        symbols=["BTCUSDT"],
        api_key="",
        api_secret="",
        base_url="http://127.0.0.1:9",
        stream_url="ws://127.0.0.1:9",
        config=StreamSettings(stall_seconds=30.0),
    )


@pytest.mark.parametrize("silence_bound", [True, False])
def test_a_watch_cancelled_as_its_message_arrives_stops(silence_bound):
    runner = _runner()
    messages: list[asyncio.Future] = []

    async def watch():
        message = asyncio.get_running_loop().create_future()
        messages.append(message)
        return await message

    async def scenario() -> str:
        runner._stop = asyncio.Event()
        loop = runner._watch("market", "public", watch, silence_bound)
        task = asyncio.ensure_future(loop)
        for _ in range(3):
            await asyncio.sleep(0)
        messages[-1].set_result({"e": "bookTicker"})  # the message and the stop, one turn
        task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(task), 2)
        except asyncio.CancelledError:
            return "cancelled"
        except TimeoutError:
            task.cancel()
            return f"still watching after {len(messages)} watches"
        return "returned"

    async def closing() -> str:
        try:
            return await scenario()
        finally:
            await runner.client.close()

    assert asyncio.run(closing()) == "cancelled"


def test_a_watch_loop_ends_once_the_runner_is_stopping():
    runner = _runner()
    watches = 0

    async def watch():
        nonlocal watches
        watches += 1
        if watches == 3:
            runner._stop.set()
        await asyncio.sleep(0)

    async def scenario() -> None:
        runner._stop = asyncio.Event()
        try:
            await asyncio.wait_for(runner._watch("market", "public", watch, True), 2)
        finally:
            await runner.client.close()

    asyncio.run(scenario())
    assert watches == 3
