"""The request-weight throttle: unit behaviour on a fake clock, then bursts against the
emulator from several threads and from two processes sharing Redis."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings

from exchanges.binance import BinanceExchange
from exchanges.binance.throttle import LocalWeightStore, RedisWeightStore, WeightThrottle
from exchanges.errors import ExchangeError, RateLimitedError
from tests.binance_emulator import BinanceEmulator
from tests.conftest import child_env

ROOT = Path(__file__).resolve().parents[2]


class FakeTime:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def throttle(store=None, budget=10, fake=None, **kw) -> WeightThrottle:
    fake = fake or FakeTime()
    kw.setdefault("max_wait_seconds", 120)
    return WeightThrottle(
        store=store or LocalWeightStore(), budget=budget, window_seconds=60,
        clock=fake.clock, sleep=fake.sleep, **kw,
    )  # fmt: skip


def test_throttle_waits_for_the_next_window_when_the_budget_is_spent():
    fake = FakeTime(1_000_000.0)  # 40 s into a 60 s window
    gate = throttle(fake=fake, budget=10)
    for _ in range(5):
        gate.acquire(2)
    assert fake.slept == []
    gate.acquire(2)
    assert len(fake.slept) == 1 and 20 <= fake.slept[0] <= 20.1
    assert int(fake.now // 60) == 1_000_000 // 60 + 1


def test_throttle_refuses_instead_of_waiting_longer_than_allowed():
    gate = throttle(budget=4, max_wait_seconds=5)
    gate.acquire(4)
    with pytest.raises(RateLimitedError, match="no request sent") as raised:
        gate.acquire(1)
    assert raised.value.retry_after == pytest.approx(20, abs=0.1)


def test_used_weight_header_raises_the_count_to_what_binance_reports():
    fake = FakeTime()
    gate = throttle(fake=fake, budget=10)
    gate.observe(200, {"X-MBX-USED-WEIGHT-1M": "9"})
    gate.acquire(1)
    assert fake.slept == []
    gate.acquire(1)
    assert len(fake.slept) == 1


def test_429_blocks_every_sender_sharing_the_store_until_retry_after():
    store, fake = LocalWeightStore(), FakeTime()
    one, other = throttle(store, fake=fake), throttle(store, fake=fake)
    one.observe(429, {"Retry-After": "7"})
    with pytest.raises(RateLimitedError) as raised:
        other.acquire(1)
    assert raised.value.retry_after == pytest.approx(7) and raised.value.banned is False
    fake.now += 7.01
    other.acquire(1)


def test_418_blocks_as_a_ban():
    gate = throttle()
    gate.observe(418, {"Retry-After": "120"})
    with pytest.raises(RateLimitedError) as raised:
        gate.acquire(0)  # even weightless order requests wait out a ban
    assert raised.value.banned is True


def test_request_near_the_end_of_a_window_is_charged_to_the_next_one_too():
    fake = FakeTime(60 * 1000 + 59.5)  # half a second before the window ends
    gate = throttle(fake=fake, budget=10)
    gate.acquire(8)
    fake.now += 1.0  # next window
    gate.acquire(2)
    assert fake.slept == []
    gate.acquire(1)  # 8 + 2 + 1 > 10 in this window
    assert len(fake.slept) == 1


def test_redis_store_shares_counts_and_back_offs_between_throttles():
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    fake = FakeTime()
    one = throttle(RedisWeightStore(client, "xquant:test:throttle"), fake=fake, budget=10)
    other = throttle(RedisWeightStore(client, "xquant:test:throttle"), fake=fake, budget=10)
    one.acquire(6)
    other.acquire(4)
    with pytest.raises(RateLimitedError):
        WeightThrottle(
            store=RedisWeightStore(client, "xquant:test:throttle"), budget=10,
            window_seconds=60, max_wait_seconds=0, clock=fake.clock,
        ).acquire(1)  # fmt: skip
    one.observe(418, {"Retry-After": "30"})
    with pytest.raises(RateLimitedError) as raised:
        other.acquire(0)
    assert raised.value.banned is True


# --- against the emulator -----------------------------------------------------------
LIMIT, WINDOW = 30, 2.0


@pytest.fixture
def small_emulator():
    with BinanceEmulator(weight_limit=LIMIT, window_seconds=WINDOW) as emulator:
        yield emulator


def burst_from_threads(exchange: BinanceExchange, threads: int, calls: int) -> list[Exception]:
    failures: list[Exception] = []

    def work():
        for _ in range(calls):
            try:
                exchange.market_snapshot("BTCUSDT")
            except ExchangeError as error:
                failures.append(error)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    return failures


def connector(emulator: BinanceEmulator, budget: int, **kw) -> BinanceExchange:
    return BinanceExchange(
        api_key=emulator.api_key, api_secret=emulator.api_secret, base_url=emulator.url,
        timeout=5.0, weight_budget=budget, weight_window_seconds=WINDOW,
        throttle_max_wait_seconds=20, **kw,
    )  # fmt: skip


def test_burst_from_several_threads_stays_under_the_weight_limit(small_emulator):
    exchange = connector(small_emulator, LIMIT, weight_store=LocalWeightStore())
    failures = burst_from_threads(exchange, threads=3, calls=10)  # 60 weight, 2 windows' worth

    assert failures == []
    assert len(small_emulator.received()) == 30
    assert set(small_emulator.statuses()) == {200}
    assert small_emulator.max_window_weight <= LIMIT


def test_without_the_throttle_the_same_burst_is_rate_limited(small_emulator):
    # The control: with a budget far above the limit, the emulator answers 429.
    exchange = connector(small_emulator, 2000, weight_store=LocalWeightStore())
    failures = burst_from_threads(exchange, threads=3, calls=10)
    assert any(isinstance(f, RateLimitedError) for f in failures)
    assert 429 in small_emulator.statuses()


def test_weight_spent_by_another_program_is_learnt_from_the_header(small_emulator):
    for _ in range(2):  # another program on this IP: depth costs 10 each
        requests.get(f"{small_emulator.url}/fapi/v1/depth?symbol=BTCUSDT", timeout=5)
    exchange = connector(small_emulator, LIMIT, weight_store=LocalWeightStore())
    failures = burst_from_threads(exchange, threads=1, calls=10)
    assert failures == []
    assert 429 not in small_emulator.statuses()
    assert small_emulator.max_window_weight <= LIMIT


def run_two_processes(emulator: BinanceEmulator, redis_url: str, calls: int) -> list[dict]:
    # Both processes start their burst at the same window start.
    start_at = math.ceil((time.time() + 4) / WINDOW) * WINDOW + 0.05
    env = child_env()
    args = [
        sys.executable, "-m", "tests.exchanges.throttle_burst_worker", emulator.url,
        emulator.api_key, emulator.api_secret, repr(start_at), str(calls), str(LIMIT), str(WINDOW),
        redis_url,
    ]  # fmt: skip
    processes = [
        subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


@pytest.mark.slow
def test_two_processes_sharing_redis_stay_under_the_weight_limit(small_emulator):
    results = run_two_processes(small_emulator, settings.REDIS_URL, calls=15)
    assert [r["errors"] for r in results] == [[], []]
    assert sum(r["ok"] for r in results) == 30  # 60 weight: the processes took turns
    assert set(small_emulator.statuses()) == {200}
    assert small_emulator.max_window_weight <= LIMIT


@pytest.mark.slow
def test_two_processes_each_throttling_alone_together_exceed_the_limit(small_emulator):
    # The control: per-process budgets earn 429s. Each process alone would spread its
    # requests over three windows, so the two overlap even if one starts late.
    results = run_two_processes(small_emulator, "", calls=45)
    assert any(r["errors"] for r in results)
    assert 429 in small_emulator.statuses()


def test_the_weight_the_exchange_reports_is_a_metric(binance_exchange, binance_emulator):
    from prometheus_client import REGISTRY

    binance_exchange.market_snapshot("BTCUSDT")  # weight 2 in a fresh window
    assert REGISTRY.get_sample_value(
        "xquant_exchange_request_weight_used", {"exchange": "binance"}
    ) == float(binance_emulator.max_window_weight)
    assert binance_emulator.max_window_weight == 2
