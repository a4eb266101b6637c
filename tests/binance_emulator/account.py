"""The emulator's futures account: orders, matching, positions, balance and settings.

Behaves like Binance USD-M for what the connector does, with the same error codes:
filters (-1013 LOT_SIZE/PRICE_FILTER style, -4164 min notional, -1111 precision),
margin (-2019), reduce-only (-2022), position side vs mode (-4061), duplicate client id
among open orders (-4116), unknown order (-2013 on query, -2011 on cancel), and the
"no need to change" answers of the settings (-4046, -4059).

Simplifications: the book is one level deep and fills whole orders; no PERCENT_PRICE,
funding or liquidation; available balance ignores unrealised PnL.
"""

from __future__ import annotations

import itertools
import re
from decimal import Decimal, InvalidOperation

from exchanges.paper.accounting import opening_quantity, position_apply
from tests.binance_emulator.market import DEFAULT_BOOKS, SYMBOLS, filters_of

CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
OPEN = ("NEW", "PARTIALLY_FILLED")
TAKER_FEE = Decimal("0.0004")
MAKER_FEE = Decimal("0.0002")
ZERO = Decimal("0")


class ApiError(Exception):
    """An error answer: HTTP status plus Binance's {"code", "msg"}."""

    def __init__(self, status: int, code: int, msg: str, headers: dict | None = None):
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg
        self.headers = headers or {}


def _bad(code: int, msg: str) -> ApiError:
    return ApiError(400, code, msg)


def _decimal(params: dict, name: str, required: bool = True) -> Decimal | None:
    value = params.get(name)
    if value is None:
        if required:
            raise _bad(
                -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
            )
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise _bad(-1102, f"Parameter '{name}' was malformed.") from None


def _on_grid(value: Decimal, origin: Decimal, step: Decimal) -> bool:
    return (value - origin) % step == 0


class Account:
    def __init__(self, balance: Decimal = Decimal("100000")):
        self.wallet = balance
        self.dual_side = False
        self.leverage = {symbol: 20 for symbol in SYMBOLS}
        self.margin_type = {symbol: "CROSSED" for symbol in SYMBOLS}
        self.books = dict(DEFAULT_BOOKS)
        self.orders: dict[int, dict] = {}
        self.trades: list[dict] = []
        #: (symbol, positionSide) -> {"amt": Decimal, "entry": Decimal}
        self.positions: dict[tuple[str, str], dict] = {}
        self._order_ids = itertools.count(4051234567)
        self._trade_ids = itertools.count(6123456790)
        self.update_time = 1
        #: Called with each user-data event (ORDER_TRADE_UPDATE) as it happens, under the
        #: emulator's lock (tests.binance_emulator.streams pushes them to listeners).
        self.listeners: list = []

    # --- helpers ---------------------------------------------------------------------
    def symbol(self, params: dict) -> str:
        symbol = params.get("symbol")
        if not symbol:
            raise _bad(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        if symbol not in SYMBOLS:
            raise _bad(-1121, "Invalid symbol.")
        return symbol

    def position(self, symbol: str, side: str) -> dict:
        return self.positions.setdefault((symbol, side), {"amt": ZERO, "entry": ZERO})

    def _available(self) -> Decimal:
        used = sum(
            (abs(p["amt"]) * p["entry"] / self.leverage[s] for (s, _), p in self.positions.items()),
            ZERO,
        )
        reserved = sum((o["_margin"] for o in self.orders.values() if o["status"] in OPEN), ZERO)
        return self.wallet - used - reserved

    def _find(self, symbol: str, params: dict) -> dict | None:
        if params.get("orderId"):
            order = self.orders.get(int(params["orderId"]))
            return order if order and order["symbol"] == symbol else None
        client_id = params.get("origClientOrderId")
        if not client_id:
            raise _bad(-1102, "Either orderId or origClientOrderId must be sent.")
        # The most recent order that used this client id.
        matches = [
            o
            for o in self.orders.values()
            if o["symbol"] == symbol and o["clientOrderId"] == client_id
        ]
        return max(matches, key=lambda o: o["orderId"]) if matches else None

    @staticmethod
    def public(order: dict, with_time: bool = True) -> dict:
        shown = {k: v for k, v in order.items() if not k.startswith("_")}
        if not with_time:
            shown.pop("time", None)  # POST/DELETE answers carry no "time"
        return shown

    # --- orders ----------------------------------------------------------------------
    def _check_filters(self, symbol: str, order_type: str, quantity: Decimal, price: Decimal | None, reduce_only: bool) -> None:  # fmt: skip
        filters = filters_of(symbol)
        lot = filters["MARKET_LOT_SIZE" if order_type == "MARKET" else "LOT_SIZE"]
        step, min_qty, max_qty = (Decimal(lot[k]) for k in ("stepSize", "minQty", "maxQty"))
        if quantity <= 0:
            raise _bad(-4003, "Quantity less than or equal to zero.")
        if -quantity.as_tuple().exponent > 3:  # quantityPrecision
            raise _bad(-1111, "Precision is over the maximum defined for this asset.")
        if quantity < min_qty or quantity > max_qty or not _on_grid(quantity, ZERO, step):
            raise _bad(
                -1013,
                f"Filter failure: {'MARKET_LOT_SIZE' if order_type == 'MARKET' else 'LOT_SIZE'}",
            )
        if price is not None:
            pf = filters["PRICE_FILTER"]
            tick, low, high = (Decimal(pf[k]) for k in ("tickSize", "minPrice", "maxPrice"))
            if -price.as_tuple().exponent > 2:  # pricePrecision
                raise _bad(-1111, "Precision is over the maximum defined for this asset.")
            if price < low or price > high or not _on_grid(price, low, tick):
                raise _bad(-1013, "Filter failure: PRICE_FILTER")
        bid, ask = self.books[symbol]
        value = quantity * (price if price is not None else (bid + ask) / 2)
        min_notional = Decimal(filters["MIN_NOTIONAL"]["notional"])
        if value < min_notional and not reduce_only:
            raise _bad(
                -4164,
                f"Order's notional must be no smaller than {min_notional} (unless you choose reduce only).",
            )

    def new_order(self, params: dict, now: int) -> dict:
        symbol = self.symbol(params)
        side = params.get("side", "")
        order_type = params.get("type", "")
        if side not in ("BUY", "SELL"):
            raise _bad(-1117, "Invalid side.")
        if order_type in (
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ):
            raise _bad(-4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")  # fmt: skip
        if order_type not in ("LIMIT", "MARKET"):
            raise _bad(-1116, "Invalid orderType.")
        quantity = _decimal(params, "quantity")
        price = _decimal(params, "price", required=order_type == "LIMIT")
        tif = params.get("timeInForce", "GTC") if order_type == "LIMIT" else "GTC"
        reduce_only = params.get("reduceOnly", "false") == "true"
        position_side = params.get("positionSide", "BOTH")
        client_id = params.get("newClientOrderId") or f"emu{next(self._order_ids)}"
        if not CLIENT_ID.match(client_id):
            raise _bad(-4015, "Client order id is not valid.")
        if self.dual_side and position_side not in ("LONG", "SHORT"):
            raise _bad(-4061, "Order's position side does not match user's setting.")
        if not self.dual_side and position_side != "BOTH":
            raise _bad(-4061, "Order's position side does not match user's setting.")
        if self.dual_side and "reduceOnly" in params:
            raise _bad(-1106, "Parameter 'reduceonly' sent when not required.")
        self._check_filters(symbol, order_type, quantity, price, reduce_only)
        if any(
            o["clientOrderId"] == client_id and o["status"] in OPEN for o in self.orders.values()
        ):
            raise _bad(-4116, "ClientOrderId is duplicated.")

        position = self.position(symbol, position_side)
        closing = (
            reduce_only
            or (position_side == "LONG" and side == "SELL")
            or (position_side == "SHORT" and side == "BUY")
        )
        if closing:
            amt = position["amt"]
            reduces = amt != 0 and (amt > 0) != (side == "BUY")
            if not reduces or quantity > abs(amt):
                raise _bad(-2022, "ReduceOnly Order is rejected.")
        bid, ask = self.books[symbol]
        crosses = order_type == "MARKET" or (price >= ask if side == "BUY" else price <= bid)
        if crosses and tif == "GTX":
            raise _bad(-5022, "Due to the order could not be executed as maker, the Post Only order will be rejected.")  # fmt: skip
        exec_price = (ask if side == "BUY" else bid) if crosses else price
        margin = (
            opening_quantity(position["amt"], side, quantity) * exec_price / self.leverage[symbol]
        )
        fee = exec_price * quantity * TAKER_FEE if crosses else ZERO
        if margin + fee > self._available():
            raise _bad(-2019, "Margin is insufficient.")

        order_id = next(self._order_ids)
        order = {
            "orderId": order_id, "symbol": symbol, "status": "NEW", "clientOrderId": client_id,
            "price": f"{price:f}" if price is not None else "0.00", "avgPrice": "0.00",
            "origQty": f"{quantity:f}", "executedQty": "0", "cumQty": "0", "cumQuote": "0",
            "timeInForce": tif, "type": order_type, "reduceOnly": reduce_only,
            "closePosition": False, "side": side, "positionSide": position_side,
            "stopPrice": "0.00", "workingType": "CONTRACT_PRICE", "priceProtect": False,
            "origType": order_type, "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER",
            "goodTillDate": 0, "time": now, "updateTime": now, "_margin": ZERO,
        }  # fmt: skip
        self.orders[order_id] = order
        self._emit(order, "NEW", now)
        if crosses:
            self._fill(order, exec_price, maker=False, now=now)
        elif tif in ("IOC", "FOK"):
            order["status"] = "EXPIRED"
            self._emit(order, "EXPIRED", now)
        else:
            order["_margin"] = margin
        return self.public(order, with_time=False)

    def _fill(self, order: dict, price: Decimal, *, maker: bool, now: int) -> None:
        quantity = Decimal(order["origQty"])
        position = self.position(order["symbol"], order["positionSide"])
        change = position_apply(
            quantity=position["amt"], entry_price=position["entry"], side=order["side"],
            fill_quantity=quantity, price=price,
        )  # fmt: skip
        position["amt"], position["entry"] = change.quantity, change.entry_price
        fee = (price * quantity * (MAKER_FEE if maker else TAKER_FEE)).quantize(
            Decimal("0.00000001")
        )
        self.wallet += change.realized_pnl - fee
        self.update_time = now
        order.update(
            status="FILLED", executedQty=order["origQty"], cumQty=order["origQty"],
            cumQuote=f"{price * quantity:f}", avgPrice=f"{price:f}", updateTime=now, _margin=ZERO,
        )  # fmt: skip
        self.trades.append(
            {
                "symbol": order["symbol"], "id": next(self._trade_ids), "orderId": order["orderId"],
                "side": order["side"], "price": f"{price:f}", "qty": order["origQty"],
                "realizedPnl": f"{change.realized_pnl:f}", "marginAsset": "USDT",
                "quoteQty": f"{price * quantity:f}", "commission": f"{fee:f}",
                "commissionAsset": "USDT", "time": now, "positionSide": order["positionSide"],
                "buyer": order["side"] == "BUY", "maker": maker,
            }
        )  # fmt: skip
        self._emit(order, "TRADE", now, self.trades[-1])
        self._emit_account(order["symbol"], order["positionSide"], now)

    def set_book(self, symbol: str, bid: Decimal, ask: Decimal, now: int) -> None:
        """Move the top of book; resting limit orders it crosses fill at their price."""
        self.books[symbol] = (bid, ask)
        for order in sorted(self.orders.values(), key=lambda o: o["orderId"]):
            if order["symbol"] != symbol or order["status"] not in OPEN or order["type"] != "LIMIT":
                continue
            limit = Decimal(order["price"])
            if (order["side"] == "BUY" and limit >= ask) or (
                order["side"] == "SELL" and limit <= bid
            ):
                self._fill(order, limit, maker=True, now=now)

    def _emit(self, order: dict, execution: str, now: int, trade: dict | None = None) -> None:
        """Binance's ORDER_TRADE_UPDATE for this change of the order, to the listeners."""
        if not self.listeners:
            return
        event = {
            "e": "ORDER_TRADE_UPDATE", "E": now, "T": now,
            "o": {
                "s": order["symbol"], "c": order["clientOrderId"], "S": order["side"],
                "o": order["type"], "f": order["timeInForce"], "q": order["origQty"],
                "p": order["price"], "ap": order["avgPrice"], "sp": "0", "x": execution,
                "X": order["status"], "i": order["orderId"],
                "l": trade["qty"] if trade else "0", "z": order["executedQty"],
                "L": trade["price"] if trade else "0",
                "N": "USDT", "n": trade["commission"] if trade else "0",
                "T": now, "t": trade["id"] if trade else 0, "b": "0", "a": "0",
                "m": trade["maker"] if trade else False, "R": order["reduceOnly"],
                "wt": "CONTRACT_PRICE", "ot": order["type"], "ps": order["positionSide"],
                "cp": False, "rp": trade["realizedPnl"] if trade else "0",
            },
        }  # fmt: skip
        for listener in self.listeners:
            listener(event)

    def _emit_account(self, symbol: str, position_side: str, now: int) -> None:
        """Binance's ACCOUNT_UPDATE after a trade: the wallet and the position it moved."""
        if not self.listeners:
            return
        position = self.position(symbol, position_side)
        event = {
            "e": "ACCOUNT_UPDATE", "E": now, "T": now,
            "a": {
                "m": "ORDER",
                "B": [{"a": "USDT", "wb": f"{self.wallet:f}", "cw": f"{self.wallet:f}", "bc": "0"}],
                "P": [{
                    "s": symbol, "pa": f"{position['amt']:f}", "ep": f"{position['entry']:f}",
                    "bep": f"{position['entry']:f}", "cr": "0", "up": "0", "mt": "cross",
                    "iw": "0", "ps": position_side,
                }],
            },
        }  # fmt: skip
        for listener in self.listeners:
            listener(event)

    def query_order(self, params: dict) -> dict:
        order = self._find(self.symbol(params), params)
        if order is None:
            raise _bad(-2013, "Order does not exist.")
        return self.public(order)

    def cancel_order(self, params: dict, now: int) -> dict:
        order = self._find(self.symbol(params), params)
        if order is None or order["status"] not in OPEN:
            raise _bad(-2011, "Unknown order sent.")
        order.update(status="CANCELED", updateTime=now, _margin=ZERO)
        self._emit(order, "CANCELED", now)
        return self.public(order, with_time=False)

    def open_orders(self, params: dict) -> list[dict]:
        symbol = params.get("symbol")
        return [
            self.public(o)
            for o in self.orders.values()
            if o["status"] in OPEN and (symbol is None or o["symbol"] == symbol)
        ]

    def cancel_all(self, params: dict, now: int) -> dict:
        symbol = self.symbol(params)
        for order in self.orders.values():
            if order["symbol"] == symbol and order["status"] in OPEN:
                order.update(status="CANCELED", updateTime=now, _margin=ZERO)
                self._emit(order, "CANCELED", now)
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def all_orders(self, params: dict) -> list[dict]:
        symbol = self.symbol(params)
        return [self.public(o) for o in self.orders.values() if o["symbol"] == symbol]

    def user_trades(self, params: dict) -> list[dict]:
        symbol = self.symbol(params)
        rows = [t for t in self.trades if t["symbol"] == symbol]
        if params.get("orderId"):
            rows = [t for t in rows if t["orderId"] == int(params["orderId"])]
        if params.get("startTime"):
            rows = [t for t in rows if t["time"] >= int(params["startTime"])]
        if params.get("endTime"):
            rows = [t for t in rows if t["time"] <= int(params["endTime"])]
        return rows[-int(params.get("limit", 500)) :]

    # --- account ---------------------------------------------------------------------
    def _position_rows(self) -> list[dict]:
        rows = []
        for (symbol, side), p in sorted(self.positions.items()):
            if p["amt"] == 0:
                continue
            bid, ask = self.books[symbol]
            mark = (bid + ask) / 2
            notional = p["amt"] * mark
            margin = abs(p["amt"]) * p["entry"] / self.leverage[symbol]
            isolated = self.margin_type[symbol] == "ISOLATED"
            rows.append(
                {
                    "symbol": symbol, "positionSide": side, "positionAmt": f"{p['amt']:f}",
                    "entryPrice": f"{p['entry']:f}", "breakEvenPrice": f"{p['entry']:f}",
                    "markPrice": f"{mark:f}", "unRealizedProfit": f"{(mark - p['entry']) * p['amt']:f}",
                    "liquidationPrice": "0", "isolatedMargin": f"{margin:f}" if isolated else "0",
                    "notional": f"{notional:f}", "marginAsset": "USDT",
                    "isolatedWallet": f"{margin:f}" if isolated else "0",
                    "initialMargin": f"{margin:f}", "maintMargin": "0",
                    "positionInitialMargin": f"{margin:f}", "openOrderInitialMargin": "0",
                    "adl": 1, "bidNotional": "0", "askNotional": "0", "updateTime": self.update_time,
                }
            )  # fmt: skip
        return rows

    def position_risk(self, params: dict) -> list[dict]:
        symbol = params.get("symbol")
        return [r for r in self._position_rows() if symbol is None or r["symbol"] == symbol]

    def account(self) -> dict:
        rows = self._position_rows()
        unrealized = sum((Decimal(r["unRealizedProfit"]) for r in rows), ZERO)
        initial = sum((Decimal(r["initialMargin"]) for r in rows), ZERO)
        available = self._available()
        margin_balance = self.wallet + unrealized
        asset = {
            "asset": "USDT", "walletBalance": f"{self.wallet:f}",
            "unrealizedProfit": f"{unrealized:f}", "marginBalance": f"{margin_balance:f}",
            "maintMargin": "0", "initialMargin": f"{initial:f}",
            "positionInitialMargin": f"{initial:f}", "openOrderInitialMargin": "0",
            "crossWalletBalance": f"{self.wallet:f}", "crossUnPnl": f"{unrealized:f}",
            "availableBalance": f"{available:f}", "maxWithdrawAmount": f"{available:f}",
            "updateTime": self.update_time,
        }  # fmt: skip
        return {
            "totalInitialMargin": f"{initial:f}", "totalMaintMargin": "0",
            "totalWalletBalance": f"{self.wallet:f}", "totalUnrealizedProfit": f"{unrealized:f}",
            "totalMarginBalance": f"{margin_balance:f}", "availableBalance": f"{available:f}",
            "maxWithdrawAmount": f"{available:f}", "assets": [asset],
            "positions": [
                {k: r[k] for k in ("symbol", "positionSide", "positionAmt", "unRealizedProfit",
                                   "isolatedMargin", "notional", "isolatedWallet", "initialMargin",
                                   "maintMargin", "updateTime")}
                for r in rows
            ],
        }  # fmt: skip

    def set_leverage(self, params: dict) -> dict:
        symbol = self.symbol(params)
        try:
            leverage = int(params.get("leverage", ""))
        except ValueError:
            leverage = 0
        if not 1 <= leverage <= 125:
            raise _bad(-4028, f"Leverage {params.get('leverage')} is not valid")
        self.leverage[symbol] = leverage
        return {"leverage": leverage, "maxNotionalValue": "230000000", "symbol": symbol}

    def set_margin_type(self, params: dict) -> dict:
        symbol = self.symbol(params)
        margin_type = params.get("marginType", "")
        if margin_type not in ("ISOLATED", "CROSSED"):
            raise _bad(-1130, "Invalid data sent for a parameter.")
        if self.margin_type[symbol] == margin_type:
            raise _bad(-4046, "No need to change margin type.")
        if any(o["symbol"] == symbol and o["status"] in OPEN for o in self.orders.values()):
            raise _bad(-4047, "Margin type cannot be changed if there exists open orders.")
        if any(s == symbol and p["amt"] != 0 for (s, _), p in self.positions.items()):
            raise _bad(-4048, "Margin type cannot be changed if there exists position.")
        self.margin_type[symbol] = margin_type
        return {"code": 200, "msg": "success"}

    def set_dual_side(self, params: dict) -> dict:
        value = params.get("dualSidePosition", "")
        if value not in ("true", "false"):
            raise _bad(-1130, "Invalid data sent for a parameter.")
        dual = value == "true"
        if dual == self.dual_side:
            raise _bad(-4059, "No need to change position side.")
        if any(o["status"] in OPEN for o in self.orders.values()):
            raise _bad(-4067, "Position side cannot be changed if there exists open orders.")
        if any(p["amt"] != 0 for p in self.positions.values()):
            raise _bad(-4068, "Position side cannot be changed if there exists position.")
        self.dual_side = dual
        return {"code": 200, "msg": "success"}
