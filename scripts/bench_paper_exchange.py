"""Per-call timings and query counts of the paper exchange on the configured database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xquant_bench \
        .venv/bin/python scripts/bench_paper_exchange.py [--ticks 2000] [--threads 4]

Migrates the database, trades on a throwaway account ("bench-<pid>", deleted at the
end) and prints p50/p99 per call, the queries each call makes, and a tick mix
(market_snapshot every tick; create_order + fetch_fills every 5th) single-threaded and
from several threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xquant.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from exchanges.base import OrderRequest  # noqa: E402
from exchanges.models import PaperAccount  # noqa: E402
from exchanges.paper import PaperExchange  # noqa: E402

SYMBOL = "BTCUSDT"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"p50 {statistics.median(ordered) * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms  "
        f"mean {statistics.fmean(ordered) * 1000:6.2f} ms  (n={len(ordered)})"
    )


def timed(call, n: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - start)
    return samples


def queries(call) -> int:
    with CaptureQueriesContext(connection) as context:
        call(0)
    return len(context.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    account = f"bench-{os.getpid()}"
    paper = PaperExchange(account=account, starting_balance="100000000", symbols=[SYMBOL])
    paper.fetch_balance()  # creates the account
    counter = iter(range(10**9))

    def market(_):
        return paper.create_order(
            OrderRequest(
                SYMBOL,
                "BUY" if next(counter) % 2 else "SELL",
                "MARKET",
                Decimal("0.01"),
                f"m{next(counter)}",
            )
        )

    last = market(0)

    def limit_and_cancel(_):
        cid = f"l{next(counter)}"
        bid = paper.market_snapshot(SYMBOL).bid
        paper.create_order(
            OrderRequest(SYMBOL, "BUY", "LIMIT", Decimal("0.01"), cid, price=bid - 1000)
        )
        paper.cancel_order(SYMBOL, cid)

    calls = {
        "market_snapshot": (lambda _: paper.market_snapshot(SYMBOL), args.ticks),
        "create_order MARKET (fill, position, balance)": (market, 500),
        "fetch_fills(exchange_order_id)": (
            lambda _: paper.fetch_fills(SYMBOL, exchange_order_id=last.exchange_order_id),
            500,
        ),
        "fetch_order": (lambda _: paper.fetch_order(SYMBOL, last.client_order_id), 500),
        "fetch_open_orders": (lambda _: paper.fetch_open_orders(SYMBOL), 500),
        "fetch_positions": (lambda _: paper.fetch_positions(), 500),
        "fetch_balance": (lambda _: paper.fetch_balance(), 500),
        "create LIMIT + cancel (+ snapshot)": (limit_and_cancel, 200),
    }
    print(
        f"database: {connection.vendor} {connection.settings_dict['NAME']}  feed: {paper.feed.name}"
    )
    for name, (call, n) in calls.items():
        count = queries(call)
        print(f"{name:48s} {count:2d} queries  {percentiles(timed(call, n))}")

    def tick(i):
        paper.market_snapshot(SYMBOL)
        if i % 5 == 0:
            order = market(i)
            paper.fetch_fills(SYMBOL, exchange_order_id=order.exchange_order_id)

    start = time.perf_counter()
    samples = timed(tick, args.ticks)
    elapsed = time.perf_counter() - start
    print(
        f"{'tick mix, 1 thread':48s}     {percentiles(samples)}  {args.ticks / elapsed:6.0f} ticks/s"
    )

    all_samples: list[float] = []
    lock = threading.Lock()

    def worker():
        mine = timed(tick, args.ticks // args.threads)
        with lock:
            all_samples.extend(mine)
        connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    print(
        f"{f'tick mix, {args.threads} threads':48s}     {percentiles(all_samples)}  "
        f"{len(all_samples) / elapsed:6.0f} ticks/s"
    )
    PaperAccount.objects.filter(name=account).delete()


if __name__ == "__main__":
    main()
