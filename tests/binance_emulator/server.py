"""A loopback HTTP emulator of the Binance USD-M futures REST API ("fapi").

It runs on 127.0.0.1 on a free port, in a background thread, and answers the requests
the connector (real ccxt) sends, the way Binance does:

1. every request is recorded (method, path, parameters, headers) and charged its weight
   in the current rate-limit window; over the limit it answers 429 with Retry-After, and
   a client that carries on is banned with 418;
2. an armed fault for this method and path may answer instead (see `fail`, `drop`,
   `delay`), before or after the request takes effect;
3. signed endpoints check X-MBX-APIKEY (-2014/-2015, HTTP 401), the HMAC-SHA256
   signature over the raw query string + body (-1022), and timestamp/recvWindow against
   the emulator's clock (-1021), which tests can shift;
4. the endpoint answers from the account (tests.binance_emulator.account).

Every answer carries X-MBX-USED-WEIGHT-1M.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.binance_emulator import market
from tests.binance_emulator import public as public_api
from tests.binance_emulator.account import Account, ApiError
from tests.binance_emulator.listen_keys import ListenKeys

#: Binance's Weight(IP) of each route; (with symbol, without symbol) where it differs.
WEIGHTS: dict[tuple[str, str], int | tuple[int, int]] = {
    ("GET", "/fapi/v1/ping"): 1, ("GET", "/fapi/v1/time"): 1,
    ("GET", "/fapi/v1/exchangeInfo"): 1, ("GET", "/fapi/v1/depth"): 10,
    ("GET", "/fapi/v1/ticker/24hr"): (1, 40), ("GET", "/fapi/v1/ticker/bookTicker"): (2, 5),
    ("GET", "/fapi/v1/ticker/price"): (1, 2), ("GET", "/fapi/v2/ticker/price"): (1, 2),
    ("GET", "/fapi/v1/klines"): 5, ("GET", "/fapi/v1/premiumIndex"): (1, 10),
    ("POST", "/fapi/v1/order"): 0, ("GET", "/fapi/v1/order"): 1, ("DELETE", "/fapi/v1/order"): 1,
    ("GET", "/fapi/v1/openOrders"): (1, 40), ("DELETE", "/fapi/v1/allOpenOrders"): 1,
    ("GET", "/fapi/v1/allOrders"): 5, ("GET", "/fapi/v1/userTrades"): 5,
    ("GET", "/fapi/v2/account"): 5, ("GET", "/fapi/v3/account"): 5,
    ("GET", "/fapi/v2/positionRisk"): 5, ("GET", "/fapi/v3/positionRisk"): 5,
    ("GET", "/fapi/v1/leverageBracket"): 1, ("POST", "/fapi/v1/leverage"): 1,
    ("POST", "/fapi/v1/marginType"): 1, ("POST", "/fapi/v1/positionSide/dual"): 1,
    ("GET", "/fapi/v1/positionSide/dual"): 30,
    ("POST", "/fapi/v1/listenKey"): 1, ("PUT", "/fapi/v1/listenKey"): 1,
    ("DELETE", "/fapi/v1/listenKey"): 1,
}  # fmt: skip
#: User-data stream routes: the API key header, no signature (USER_STREAM).
API_KEY_ONLY = "/fapi/v1/listenKey"


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    #: Query string and form body together (the query wins, as on Binance).
    params: dict[str, str]
    headers: dict[str, str]
    received_at: float
    #: HTTP status answered; None when the connection was dropped without an answer.
    status: int | None = None
    fault: str | None = None


@dataclass(slots=True)
class Fault:
    kind: str  # "status" | "drop" | "delay"
    remaining: int
    #: True: the request takes effect (an order is placed) before the fault strikes.
    process: bool
    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        pass  # a client that timed out and left is part of the tests


class BinanceEmulator:
    """Start with `start()` (or as a context manager); point the connector at `url`."""

    def __init__(
        self,
        *,
        api_key: str = "emulator-api-key",
        api_secret: str = "emulator-api-secret",
        weight_limit: int = 2400,
        window_seconds: float = 60.0,
        ban_seconds: float = 120.0,
        balance: Decimal | str = "100000",
    ):
        self.api_key = api_key
        self.api_secret = api_secret
        self.weight_limit = weight_limit
        self.window_seconds = window_seconds
        self.ban_seconds = ban_seconds
        #: Added to the real clock for serverTime and the timestamp checks.
        self.clock_offset_ms = 0
        self.account = Account(Decimal(balance))
        self.listen_keys = ListenKeys()
        self.requests: list[RecordedRequest] = []
        self.lock = threading.RLock()
        self._faults: dict[tuple[str, str], list[Fault]] = {}
        self._window_used: dict[int, int] = {}
        self._limited_window: int | None = None
        self._banned_until = 0.0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> BinanceEmulator:
        emulator = self

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> BinanceEmulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the emulator first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- clock -----------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    def shift_clock(self, milliseconds: int) -> None:
        """Move the emulator's clock (positive: ahead of the client's)."""
        self.clock_offset_ms += milliseconds

    # --- market and account control --------------------------------------------------
    def set_book(self, symbol: str, bid: Decimal | str, ask: Decimal | str) -> None:
        """Move the top of book; resting limit orders it crosses fill (as maker)."""
        with self.lock:
            self.account.set_book(symbol, Decimal(bid), Decimal(ask), self.now_ms())

    def set_position_mode(self, *, hedge: bool) -> None:
        with self.lock:
            self.account.dual_side = hedge

    # --- fault injection -------------------------------------------------------------
    def _arm(self, method: str, path: str, fault: Fault) -> None:
        with self.lock:
            self._faults.setdefault((method.upper(), path), []).append(fault)

    def fail(
        self,
        method: str,
        path: str,
        *,
        status: int,
        body: dict | str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        process: bool = False,
    ) -> None:
        """Answer the next `times` matching requests with this status, body (JSON if a
        dict, else sent as is, e.g. HTML) and headers. With `process`, the request takes
        effect first (an order placed, then a 503)."""
        self._arm(method, path, Fault("status", times, process, status, body, dict(headers or {})))

    def reject(
        self, method: str, path: str, *, code: int, msg: str, status: int = 400, times: int = 1
    ) -> None:
        """Answer with a Binance error {"code": code, "msg": msg}; nothing takes effect."""
        self.fail(method, path, status=status, body={"code": code, "msg": msg}, times=times)

    def drop(self, method: str, path: str, *, times: int = 1, process: bool = True) -> None:
        """Close the connection without answering; by default after the request took
        effect (the order exists, the client never hears of it)."""
        self._arm(method, path, Fault("drop", times, process))

    def delay(
        self, method: str, path: str, *, seconds: float, times: int = 1, process: bool = True
    ) -> None:
        """Answer only after `seconds` (longer than the client's timeout to make it give
        up); by default the request takes effect at once."""
        self._arm(method, path, Fault("delay", times, process, seconds=seconds))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            faults = self._faults.get((method, path))
            if not faults:
                return None
            fault = faults[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.pop(0)
            return fault

    # --- inspection ------------------------------------------------------------------
    def received(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Requests received so far, optionally only those to one method and path."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)
            ]

    def orders_with_client_id(self, client_order_id: str) -> list[dict]:
        """Every order (any status) that was placed with this client order id."""
        with self.lock:
            return [
                Account.public(o)
                for o in self.account.orders.values()
                if o["clientOrderId"] == client_order_id
            ]

    @property
    def max_window_weight(self) -> int:
        """The most weight any rate-limit window has seen."""
        with self.lock:
            return max(self._window_used.values(), default=0)

    def statuses(self) -> list[int | None]:
        with self.lock:
            return [r.status for r in self.requests]

    def wait_for_window_room(self, seconds: float = 5.0) -> None:
        """Sleep until at least `seconds` are left in the current weight window, so a
        test's requests all count in one window (windows are clock-aligned, as Binance's
        minutes are)."""
        left = self.window_seconds - time.time() % self.window_seconds
        if left < seconds:
            time.sleep(left + 0.05)

    # --- request handling ------------------------------------------------------------
    def _weight(self, method: str, path: str, params: dict[str, str]) -> int:
        weight = WEIGHTS.get((method, path), 1)
        if isinstance(weight, tuple):
            return weight[0] if params.get("symbol") else weight[1]
        return weight

    def _rate_limit(self, weight: int) -> tuple[ApiError | None, int]:
        """Charge the weight; an error when over the limit or banned. Returns the
        window's used weight for the header."""
        with self.lock:
            now = time.time()
            window = int(now // self.window_seconds)
            used = self._window_used[window] = self._window_used.get(window, 0) + weight
            window_end = (window + 1) * self.window_seconds
            if self._banned_until > now:
                retry = math.ceil(self._banned_until - now)
                return self._ban_error(retry), used
            if used <= self.weight_limit:
                return None, used
            if self._limited_window == window:
                # Carried on after a 429 in this window: banned.
                self._banned_until = now + self.ban_seconds
                return self._ban_error(math.ceil(self.ban_seconds)), used
            self._limited_window = window
            retry = max(1, math.ceil(window_end - now))
            return (
                ApiError(
                    429,
                    -1003,
                    f"Too many requests; current limit of IP(127.0.0.1) request weight per "
                    f"minute is {self.weight_limit}. Please use WebSocket Streams for live "
                    "updates to avoid polling the API.",
                    {"Retry-After": str(retry)},
                ),
                used,
            )

    def _ban_error(self, retry: int) -> ApiError:
        until = int(self._banned_until * 1000)
        return ApiError(
            418,
            -1003,
            f"Way too many requests; IP(127.0.0.1) banned until {until}. Please use "
            "WebSocket Streams for live updates to avoid bans.",
            {"Retry-After": str(retry)},
        )

    def _authenticate(self, headers: dict[str, str], raw_query: str, raw_body: str, params: dict) -> None:  # fmt: skip
        key = headers.get("x-mbx-apikey")
        if not key:
            raise ApiError(401, -2014, "API-key format invalid.")
        if key != self.api_key:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        query, query_signature = _without_signature(raw_query)
        body, body_signature = _without_signature(raw_body)
        signature = query_signature or body_signature
        if not signature or "timestamp" not in params:
            raise ApiError(
                400, -1102, "Mandatory parameter 'signature' or 'timestamp' was not sent."
            )
        # Over the exact bytes sent, query then body with nothing between them.
        expected = sign(self.api_secret, query + body)
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        recv_window = int(params.get("recvWindow", 5000))
        if recv_window > 60000:
            raise ApiError(400, -1130, "Invalid data sent for a parameter: recvWindow.")
        timestamp, server = int(params["timestamp"]), self.now_ms()
        if timestamp >= server + 1000:
            raise ApiError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.")  # fmt: skip
        if server - timestamp > recv_window:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    # The routes: (method, path) -> (signed, endpoint(params) -> JSON).
    def route(self, method: str, path: str) -> tuple[bool, Callable[[dict], Any]] | None:
        acct = self.account
        now = self.now_ms

        def public(
            endpoint: Callable[[Account, Callable[[], int], dict], Any],
        ) -> Callable[[dict], Any]:
            return lambda params: endpoint(acct, now, params)

        routes: dict[tuple[str, str], tuple[bool, Callable[[dict], Any]]] = {
            ("GET", "/fapi/v1/ping"): (False, lambda p: {}),
            ("GET", "/fapi/v1/time"): (False, lambda p: {"serverTime": now()}),
            ("GET", "/fapi/v1/exchangeInfo"): (False, lambda p: market.exchange_info(now())),
            ("GET", "/fapi/v1/ticker/bookTicker"): (False, public(public_api.book_ticker)),
            ("GET", "/fapi/v1/depth"): (False, public(public_api.depth)),
            ("GET", "/fapi/v1/ticker/24hr"): (False, public(public_api.ticker_24hr)),
            ("GET", "/fapi/v1/ticker/price"): (False, public(public_api.price)),
            ("GET", "/fapi/v2/ticker/price"): (False, public(public_api.price)),
            ("GET", "/fapi/v1/klines"): (False, public(public_api.klines)),
            ("GET", "/fapi/v1/premiumIndex"): (False, public(public_api.premium_index)),
            ("POST", "/fapi/v1/order"): (True, lambda p: acct.new_order(p, now())),
            ("GET", "/fapi/v1/order"): (True, acct.query_order),
            ("DELETE", "/fapi/v1/order"): (True, lambda p: acct.cancel_order(p, now())),
            ("GET", "/fapi/v1/openOrders"): (True, acct.open_orders),
            ("DELETE", "/fapi/v1/allOpenOrders"): (True, lambda p: acct.cancel_all(p, now())),
            ("GET", "/fapi/v1/allOrders"): (True, acct.all_orders),
            ("GET", "/fapi/v1/userTrades"): (True, acct.user_trades),
            ("GET", "/fapi/v3/account"): (True, lambda p: acct.account()),
            ("GET", "/fapi/v2/account"): (True, lambda p: acct.account()),
            ("GET", "/fapi/v3/positionRisk"): (True, acct.position_risk),
            ("GET", "/fapi/v2/positionRisk"): (True, acct.position_risk),
            ("GET", "/fapi/v1/leverageBracket"): (True, public(public_api.leverage_brackets)),
            ("POST", "/fapi/v1/leverage"): (True, acct.set_leverage),
            ("POST", "/fapi/v1/marginType"): (True, acct.set_margin_type),
            ("POST", "/fapi/v1/positionSide/dual"): (True, acct.set_dual_side),
            ("GET", "/fapi/v1/positionSide/dual"): (
                True,
                lambda p: {"dualSidePosition": acct.dual_side},
            ),
            ("POST", API_KEY_ONLY): (False, self.listen_keys.create),
            ("PUT", API_KEY_ONLY): (False, self.listen_keys.keepalive),
            ("DELETE", API_KEY_ONLY): (False, self.listen_keys.delete),
        }
        return routes.get((method, path))


def sign(secret: str, total_params: str) -> str:
    """Binance's signature: hex HMAC-SHA256 of the parameters with the secret key."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def _without_signature(raw: str) -> tuple[str, str | None]:
    parts, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            parts.append(part)
    return "&".join(parts), signature


class _Handler(BaseHTTPRequestHandler):
    emulator: BinanceEmulator
    # HTTP/1.0: one request per connection, so a dropped answer affects only its request.
    protocol_version = "HTTP/1.0"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PUT(self):
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        emulator = self.emulator
        split = urlsplit(self.path)
        path, raw_query = split.path, split.query
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length).decode() if length else ""
        params = dict(parse_qsl(raw_body, keep_blank_values=True))
        params.update(parse_qsl(raw_query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = RecordedRequest(method, path, params, headers, time.time())
        with emulator.lock:
            emulator.requests.append(record)

        limited, used = emulator._rate_limit(emulator._weight(method, path, params))
        if limited is not None:
            return self._answer(record, limited.status, {"code": limited.code, "msg": limited.msg}, used, limited.headers)  # fmt: skip

        fault = emulator._take_fault(method, path)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "status" and not fault.process:
                return self._answer(record, fault.status, fault.body, used, fault.headers)
        status, body, extra = self._run(method, path, raw_query, raw_body, headers, params)
        if fault is None:
            return self._answer(record, status, body, used, extra)
        if fault.kind == "drop":
            # Close the socket without a status line: the client's request vanished.
            self.close_connection = True
            return None
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return self._answer(record, status, body, used, extra)
        return self._answer(record, fault.status, fault.body, used, fault.headers)

    def _run(self, method, path, raw_query, raw_body, headers, params) -> tuple[int, Any, dict]:
        emulator = self.emulator
        route = emulator.route(method, path)
        if route is None:
            return 404, {"code": -1099, "msg": "Not found, unauthenticated, or unauthorized"}, {}
        signed, endpoint = route
        try:
            if signed:
                emulator._authenticate(headers, raw_query, raw_body, params)
            elif path == API_KEY_ONLY and headers.get("x-mbx-apikey") != emulator.api_key:
                raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
            with emulator.lock:  # one request at a time changes the account
                body = endpoint(params)
        except ApiError as error:
            return error.status, {"code": error.code, "msg": error.msg}, error.headers
        extra = {}
        if (method, path) == ("POST", "/fapi/v1/order"):
            extra = {"X-MBX-ORDER-COUNT-10S": "1", "X-MBX-ORDER-COUNT-1M": "1"}
        return 200, body, extra

    def _answer(self, record: RecordedRequest, status: int, body: Any, used: int, headers: dict) -> None:  # fmt: skip
        if isinstance(body, dict | list):
            payload, content_type = json.dumps(body).encode(), "application/json"
        else:
            payload, content_type = str(body or "").encode(), "text/html"
        record.status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-MBX-USED-WEIGHT-1M", str(used))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up waiting (a delay fault)
