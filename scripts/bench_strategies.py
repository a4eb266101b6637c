"""Micro-benchmark of the strategies' hot path (not a test).

Feeds N synthetic one-minute snapshots (a seeded random walk of Decimal prices, built
before timing starts) to Technical ma_cross, Technical rsi and TWAP, fills every order
they send at once (as a backtest would), and prints the time per snapshot: the best of
--repeat runs, in CPU time of this process, since the machine is shared.

    .venv/bin/python scripts/bench_strategies.py [--bars 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xquant.settings")
os.environ.setdefault("XQUANT_ENV_FILE", "/nonexistent")

import django

django.setup()

from exchanges.base import MarketSnapshot  # noqa: E402
from trading.strategies.base import OrderUpdate, build_strategy  # noqa: E402

CASES = {
    "technical ma_cross 10/30": (
        "technical",
        {
            "signal": "ma_cross",
            "quantity": "0.01",
            "bar_seconds": 60,
            "fast_period": 10,
            "slow_period": 30,
        },
    ),
    "technical rsi 14": ("technical", {"signal": "rsi", "quantity": "0.01", "bar_seconds": 60}),
    "twap 1000 slices / 10 min": (
        "twap",
        {"side": "BUY", "total_quantity": "10", "slices": 1000, "interval_seconds": 600},
    ),
}


def snapshots(count: int, seed: int = 7) -> list[MarketSnapshot]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    minute = timedelta(minutes=1)
    cents = 3_000_000  # 30000.00
    out = []
    for i in range(count):
        cents = max(100, cents + rng.randint(-1500, 1500))
        price = Decimal(cents).scaleb(-2)
        # Candle-driven like a backtest: bid and ask both the close.
        out.append(MarketSnapshot("BTCUSDT", price, price, start + i * minute))
    return out


def run(kind: str, params: dict, feed: list[MarketSnapshot]) -> tuple[float, int]:
    strategy = build_strategy(kind=kind, symbol="BTCUSDT", params=params)
    on_market_data, on_order_update = strategy.on_market_data, strategy.on_order_update
    orders = 0
    started = time.process_time()
    for snapshot in feed:
        intents = on_market_data(snapshot)
        if intents:
            for intent in intents:
                orders += 1
                on_order_update(OrderUpdate(intent.key, intent.side, "filled", intent.quantity))
    return time.process_time() - started, orders


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    feed = snapshots(args.bars)
    for name, (kind, params) in CASES.items():
        elapsed, orders = min(run(kind, params, feed) for _ in range(args.repeat))
        print(
            f"{name:28s} {elapsed / args.bars * 1e6:6.3f} µs/bar  "
            f"({args.bars / elapsed:,.0f} bars/s, {orders} orders)"
        )


if __name__ == "__main__":
    main()
