"""Orders placed on and cancelled from the paper exchange.

A market order and a marketable limit order fill at once at the top of book (buy at the
ask, sell at the bid) as taker; any other limit order rests on the book with its
initial margin reserved, or expires at once when its time in force is IOC or FOK. The
whole quantity fills: the simulated book has no depth.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from exchanges.base import BUY, LIMIT, MARKET, OrderRequest, OrderState, SymbolRules
from exchanges.errors import InsufficientFundsError, OrderNotFoundError
from exchanges.models import OPEN_ORDER_STATUSES, PaperOrder
from exchanges.paper import accounting as acc
from exchanges.paper.account import (
    Simulation,
    account_lock,
    available,
    position_for,
    positions_get,
    symbol_setting,
)
from exchanges.paper.fills import fill_apply, fills_save

TIMES_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")


def order_place(*, sim: Simulation, rules: SymbolRules, request: OrderRequest) -> PaperOrder:
    """Place an order: filled, resting or expired, as the book and its time in force
    say; OrderRejectedError or InsufficientFundsError, with nothing written, when
    Binance would refuse it."""
    now = sim.clock()
    book = sim.feed.snapshot(request.symbol, now)
    request = rules.normalize(request, reference_price=book.mid)
    if request.order_type not in (MARKET, LIMIT):
        raise acc.reject("-1116", f"order type {request.order_type} is not MARKET or LIMIT")
    tif = (request.time_in_force or "GTC") if request.order_type == LIMIT else ""
    if tif and tif not in TIMES_IN_FORCE:
        raise acc.reject("-1115", f"time in force {tif} is not GTC, IOC, FOK or GTX")
    buy = request.side == BUY
    top = book.ask if buy else book.bid
    crosses: bool
    fill_price: Decimal
    if request.order_type == MARKET:
        crosses, fill_price = True, top
    elif request.price is None:
        raise acc.reject("-1102", "a LIMIT order needs a price")
    else:
        crosses = request.price >= book.ask if buy else request.price <= book.bid
        fill_price = top if crosses else request.price
        if crosses and tif == "GTX":
            raise acc.reject("-5022", "post-only order would immediately match and take")

    with transaction.atomic():
        account, client_id_in_use = account_lock(
            sim=sim, now=now, client_order_id=request.client_order_id
        )
        if client_id_in_use:
            raise acc.reject(
                "-4116",
                f"client order id {request.client_order_id} is already used by an open order",
            )
        acc.check_position_side(
            hedge_mode=account.hedge_mode,
            position_side=request.position_side,
            reduce_only=request.reduce_only,
        )
        positions = positions_get(sim=sim)
        position = position_for(
            sim=sim,
            positions=positions,
            symbol=request.symbol,
            position_side=request.position_side,
            now=now,
        )
        acc.check_reduction(
            position=position.quantity,
            side=request.side,
            quantity=request.quantity,
            position_side=request.position_side,
            reduce_only=request.reduce_only,
        )
        leverage, _ = symbol_setting(account, request.symbol)
        opening = acc.opening_quantity(position.quantity, request.side, request.quantity)
        margin = acc.initial_margin(opening, fill_price, leverage)
        fee = acc.q8(fill_price * request.quantity * sim.taker_fee) if crosses else acc.ZERO
        free = available(sim=sim, account=account, positions=positions)
        if margin + fee > free:
            raise InsufficientFundsError(
                f"paper exchange rejected the order: margin {margin} plus fee {fee} is more "
                f"than the available balance {free} {account.asset}",
                exchange_code="-2019",
            )
        status = OrderState.NEW
        if not crosses and tif in ("IOC", "FOK"):
            status = OrderState.EXPIRED
        order = PaperOrder(
            account_id=sim.account_name,
            symbol=request.symbol,
            client_order_id=request.client_order_id,
            side=request.side,
            order_type=request.order_type,
            position_side=request.position_side,
            reduce_only=request.reduce_only,
            time_in_force=tif,
            quantity=request.quantity,
            price=request.price,
            status=status,
            reserved_margin=margin if not crosses and status.is_open else acc.ZERO,
            created_at=now,
            updated_at=now,
        )
        if crosses:
            trade = fill_apply(
                sim=sim,
                account=account,
                position=position,
                order=order,
                price=fill_price,
                is_maker=False,
                now=now,
            )
            fills_save(account=account, trades=[trade], positions=[position], now=now)
        else:
            order.save()
            account.order_margin += order.reserved_margin
            account.updated_at = now
            account.save(update_fields=["order_margin", "updated_at"])
    return order


def order_cancel(*, sim: Simulation, symbol: str, client_order_id: str) -> PaperOrder:
    """Cancel an open order, which returns its reserved margin; OrderNotFoundError when
    none with that client order id is open."""
    now = sim.clock()
    with transaction.atomic():
        account, _ = account_lock(sim=sim, now=now)
        order = (
            PaperOrder.objects.select_for_update()
            .filter(
                account__name=sim.account_name,
                symbol=symbol,
                client_order_id=client_order_id,
                status__in=OPEN_ORDER_STATUSES,
            )
            .first()
        )
        if order is None:
            raise OrderNotFoundError(
                f"paper exchange has no open {symbol} order {client_order_id} to cancel",
                exchange_code="-2011",
            )
        account.order_margin = max(acc.ZERO, account.order_margin - order.reserved_margin)
        account.updated_at = now
        account.save(update_fields=["order_margin", "updated_at"])
        order.status, order.reserved_margin, order.updated_at = OrderState.CANCELED, acc.ZERO, now
        order.save(update_fields=["status", "reserved_margin", "updated_at"])
    return order
