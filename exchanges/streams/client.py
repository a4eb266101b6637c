"""ccxt.pro's binanceusdm, configured like the REST connector and instrumented.

- REST sections point at the fapi paths on the chosen base URL (as exchanges.binance
  .client), so the listen-key calls ccxt makes (POST/PUT /fapi/v1/listenKey) go where
  the connector's requests go; `urls['api']['ws']['linear']` is the stream base, which
  ccxt rewrites per category: /public/ws (bookTicker), /market/ws (klines, mark price),
  /private/ws?listenKey=… (user data).
- Every raw message is handed to `on_message(category, message)` before ccxt parses
  it: the runner reads Binance's fields itself (a kline's "closed" flag and the trade
  fields of ORDER_TRADE_UPDATE are not in ccxt's unified structures).
- ccxt ignores `listenKeyExpired` (no handler in 4.5.90): here it forgets the key and
  fails the connection, so the next watch creates a key and reconnects.
- The listen key is kept alive (PUT every `keepalive_seconds`, by the runner) and never
  deleted: Binance has one key per account, shared by every client of the account.
- ccxt's ping every `stall_seconds / 3` and its 2-missed-pongs rule make a connection
  that stalls without closing fail within about `stall_seconds`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import ccxt
import ccxt.pro as ccxtpro

from exchanges.binance.client import API_PATHS, PRODUCTION_BASE_URL

logger = logging.getLogger("exchanges.streams")

PRODUCTION_STREAM_URL = "wss://fstream.binance.com/ws"
PUBLIC, MARKET, PRIVATE = "public", "market", "private"


def category_of(url: str) -> str:
    for category in (PRIVATE, MARKET, PUBLIC):
        if f"/{category}/" in url:
            return category
    return PUBLIC


class ListenKeyExpired(ccxt.AuthenticationError):
    """The exchange said the user-data listen key expired."""


class StreamClient(ccxtpro.binanceusdm):
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str,
        stream_url: str,
        keepalive_seconds: float,
        stall_seconds: float,
        on_message: Callable[[str, Any], None],
        on_connected: Callable[[str], None] | None = None,
    ):
        super().__init__(
            {
                "apiKey": api_key,
                "secret": api_secret,
                "enableRateLimit": False,
                "timeout": 10_000,
                "options": {
                    "fetchCurrencies": False,
                    "fetchMarkets": {"types": ["linear"]},
                    "listenKeyRefreshRate": int(keepalive_seconds * 1000),
                    # ccxt would otherwise ask REST for a balance/positions snapshot on
                    # the first user-data subscription.
                    "watchBalance": {"fetchBalanceSnapshot": False},
                    "watchPositions": {"fetchPositionsSnapshot": False},
                },
                "streaming": {
                    "keepAlive": max(100, int(stall_seconds * 1000 / 3)),
                    "maxPingPongMisses": 2,
                },
            }
        )
        base = base_url.rstrip("/") or PRODUCTION_BASE_URL
        self.urls["api"] = {section: base + path for section, path in API_PATHS.items()}
        self.urls["api"]["ws"] = {"linear": stream_url or PRODUCTION_STREAM_URL}
        self._on_message = on_message
        self._on_connected = on_connected

    def get_exceptions_by_url(self, url: str, exactOrBroad: str) -> dict:
        return self.safe_dict(self.safe_dict(self.exceptions, "linear", {}), exactOrBroad, {})

    def handle_message(self, client, message):
        category = category_of(client.url)
        try:
            self._on_message(category, message)
        except Exception:  # one bad event must not fail the connection
            logger.exception("stream message not handled: %.200s", message)
        if isinstance(message, dict) and message.get("e") == "listenKeyExpired":
            self.forget_listen_key()
            client.on_error(ListenKeyExpired("the listen key expired"))
            return None
        return super().handle_message(client, message)

    def on_connected(self, client, message=None):
        super().on_connected(client, message)
        if self._on_connected is not None:
            self._on_connected(category_of(client.url))

    def forget_listen_key(self) -> None:
        """The next user-data watch asks for a key (POST) again."""
        options = dict(self.safe_dict(self.options, "linear", {}))
        options.update(listenKey=None, lastAuthenticatedTime=0)
        self.options["linear"] = options

    def fail_connections(self, category: str, error: Exception) -> int:
        """Fail (and close) this category's connections: their watches raise `error`."""
        failed = 0
        for url, client in list((self.clients or {}).items()):
            if category_of(url) == category:
                client.on_error(error)
                failed += 1
        return failed
