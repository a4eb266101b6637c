"""A separate process that sends a burst of book-ticker requests through the Binance
connector (used by test_binance_throttle to show that processes share one budget).

    python -m tests.exchanges.throttle_burst_worker URL KEY SECRET START_AT COUNT BUDGET WINDOW REDIS_URL

Waits until the epoch time START_AT, sends COUNT requests, prints a JSON summary.
"""

from __future__ import annotations

import json
import sys
import time

from exchanges.binance import BinanceExchange
from exchanges.errors import ExchangeError


def main(argv: list[str]) -> None:
    url, key, secret, start_at, count, budget, window, redis_url = argv
    exchange = BinanceExchange(
        api_key=key,
        api_secret=secret,
        base_url=url,
        timeout=5.0,
        weight_budget=int(budget),
        weight_window_seconds=float(window),
        throttle_max_wait_seconds=20.0,
        redis_url=redis_url,
    )
    time.sleep(max(0.0, float(start_at) - time.time()))
    ok, errors = 0, []
    for _ in range(int(count)):
        try:
            exchange.market_snapshot("BTCUSDT")
            ok += 1
        except ExchangeError as error:
            errors.append(f"{type(error).__name__}: {error}")
    print(json.dumps({"ok": ok, "errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1:])
