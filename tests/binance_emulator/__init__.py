"""A loopback emulator of Binance USD-M futures for tests (see server.py).

    from tests.binance_emulator import BinanceEmulator

    with BinanceEmulator() as emulator:
        exchange = BinanceExchange(api_key=emulator.api_key, api_secret=emulator.api_secret,
                                   base_url=emulator.url, redis_url="")

In tests, use the `binance_emulator` and `binance_exchange` fixtures of tests/conftest.py.
"""

from __future__ import annotations

from tests.binance_emulator.account import Account, ApiError
from tests.binance_emulator.server import BinanceEmulator, Fault, RecordedRequest, sign

__all__ = ["Account", "ApiError", "BinanceEmulator", "Fault", "RecordedRequest", "sign"]
