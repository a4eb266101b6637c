"""The ccxt client, configured for USD-M futures only and instrumented for the connector.

- Every URL section is replaced by fapi ones on the chosen base URL, so nothing can
  reach another Binance API (spot, sapi) or the internet from a test.
- Errors are mapped with the USD-M table whatever the host, as in production (ccxt only
  picks it for https://fapi.binance.com-like URLs, so a loopback URL would map -2019 to a
  plain ExchangeError).
- Each request takes its weight from the throttle before it is signed (a wait cannot
  make its timestamp stale), and each answer's status, headers and error code are kept
  in `last_reply` for the error translation and the throttle.
- ccxt's own throttle and retries are off: the order manager owns retries.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import ccxt

from exchanges.binance.throttle import WeightThrottle
from exchanges.binance.translate import Reply
from exchanges.binance.weights import request_weight

PRODUCTION_BASE_URL = "https://fapi.binance.com"
API_PATHS = {
    "fapiPublic": "/fapi/v1",
    "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1",
    "fapiPrivateV2": "/fapi/v2",
    "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
}


class FapiClient(ccxt.binanceusdm):
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str,
        timeout_ms: int,
        recv_window_ms: int,
        weight_throttle: WeightThrottle | None,
    ):
        super().__init__(
            {
                "apiKey": api_key,
                "secret": api_secret,
                "timeout": timeout_ms,
                "enableRateLimit": False,
                "options": {
                    # load_markets would otherwise call /sapi for currencies.
                    "fetchCurrencies": False,
                    "fetchMarkets": {"types": ["linear"]},
                    "recvWindow": recv_window_ms,
                    "maxRetriesOnFailure": 0,
                    "fetchOpenOrders": {"warnWithoutSymbol": False},
                    "setMarginMode": {"throwMarginModeAlreadySet": True},
                },
            }
        )
        base = base_url.rstrip("/") or PRODUCTION_BASE_URL
        # Replace the whole table on the instance (a constructor `urls` would deep-merge
        # and leave sapi, spot, ... pointing at binance.com).
        self.urls["api"] = {section: base + path for section, path in API_PATHS.items()}
        self.weight_throttle = weight_throttle
        self.last_reply: Reply | None = None

    def get_exceptions_by_url(self, url: str, exactOrBroad: str) -> dict:
        return self.safe_dict(self.safe_dict(self.exceptions, "linear", {}), exactOrBroad, {})

    def fetch2(self, path: str, api: Any = "public", method: str = "GET", params: dict | None = None, config: dict | None = None) -> Any:  # fmt: skip
        params = params or {}
        if self.weight_throttle is not None:
            section = api[0] if isinstance(api, list | tuple) else api
            endpoint = urlsplit(self.urls["api"].get(section, "")).path + "/" + path
            self.weight_throttle.acquire(request_weight(method, endpoint, params))
        return super().fetch2(path, api, method, params, config or {})

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        # Forget the previous answer: a call that gets none must not see a stale one.
        self.last_reply = None
        return super().fetch(url, method, headers, body)

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Any,
        body: Any,
        response: Any,
        requestHeaders: Any,
        requestBody: Any,
    ) -> Any:
        error_code = message = None
        if isinstance(response, dict) and str(response.get("code", "")) not in ("", "0", "200"):
            error_code, message = str(response["code"]), response.get("msg")
        self.last_reply = Reply(status=code, headers=headers, code=error_code, message=message)
        if self.weight_throttle is not None:
            self.weight_throttle.observe(code, headers)
        return super().handle_errors(code, reason, url, method, headers, body, response, requestHeaders, requestBody)  # fmt: skip
