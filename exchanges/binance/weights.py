"""Request weight (Binance "Weight(IP)") of each USD-M futures endpoint the connector
calls, from the official USD-M SDK docstrings. The throttle charges a request with this
weight before sending it; the X-MBX-USED-WEIGHT-1M header of the answer then corrects
the count for anything this table gets wrong or does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: (method, path) -> weight, or (weight with symbol, weight without symbol).
ENDPOINT_WEIGHTS: dict[tuple[str, str], int | tuple[int, int]] = {
    ("GET", "/fapi/v1/ping"): 1,
    ("GET", "/fapi/v1/time"): 1,
    ("GET", "/fapi/v1/exchangeInfo"): 1,
    ("GET", "/fapi/v1/ticker/24hr"): (1, 40),
    ("GET", "/fapi/v1/ticker/bookTicker"): (2, 5),
    ("GET", "/fapi/v1/ticker/price"): (1, 2),
    ("GET", "/fapi/v2/ticker/price"): (1, 2),
    ("GET", "/fapi/v1/premiumIndex"): (1, 10),
    # Placing an order costs no IP weight; it counts against the order-rate limits.
    ("POST", "/fapi/v1/order"): 0,
    ("GET", "/fapi/v1/order"): 1,
    ("DELETE", "/fapi/v1/order"): 1,
    ("GET", "/fapi/v1/openOrders"): (1, 40),
    ("DELETE", "/fapi/v1/allOpenOrders"): 1,
    ("GET", "/fapi/v1/allOrders"): 5,
    ("GET", "/fapi/v1/userTrades"): 5,
    ("GET", "/fapi/v2/account"): 5,
    ("GET", "/fapi/v3/account"): 5,
    ("GET", "/fapi/v2/balance"): 5,
    ("GET", "/fapi/v3/balance"): 5,
    ("GET", "/fapi/v2/positionRisk"): 5,
    ("GET", "/fapi/v3/positionRisk"): 5,
    ("GET", "/fapi/v1/leverageBracket"): 1,
    ("POST", "/fapi/v1/leverage"): 1,
    ("POST", "/fapi/v1/marginType"): 1,
    ("POST", "/fapi/v1/positionSide/dual"): 1,
    ("GET", "/fapi/v1/positionSide/dual"): 30,
    ("GET", "/fapi/v1/symbolConfig"): 5,
}
#: Charged for an endpoint the table does not list.
DEFAULT_WEIGHT = 5


def _depth_weight(limit: int) -> int:
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    if limit <= 500:
        return 10
    return 20


def _klines_weight(limit: int) -> int:
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


def request_weight(method: str, path: str, params: Mapping[str, Any]) -> int:
    """The weight Binance charges for one request."""
    if path == "/fapi/v1/depth":
        return _depth_weight(int(params.get("limit", 500)))
    if path.endswith("Klines") or path == "/fapi/v1/klines":
        return _klines_weight(int(params.get("limit", 500)))
    weight = ENDPOINT_WEIGHTS.get((method.upper(), path), DEFAULT_WEIGHT)
    if isinstance(weight, tuple):
        return weight[0] if params.get("symbol") else weight[1]
    return weight
