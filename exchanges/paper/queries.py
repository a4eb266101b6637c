"""Reads of the paper exchange's state, as the exchange interface answers them: orders,
fills, the balance and positions. No lock: each is one consistent read of committed
rows. The caller matches resting orders against the book first (matching)."""

from __future__ import annotations

from datetime import datetime

from exchanges.base import (
    BOTH,
    Balance,
    ExchangeOrder,
    ExchangePosition,
    Fill,
    OrderState,
)
from exchanges.errors import OrderNotFoundError
from exchanges.models import OPEN_ORDER_STATUSES, PaperOrder, PaperTrade
from exchanges.paper import accounting as acc
from exchanges.paper.account import (
    Simulation,
    account_get,
    available,
    positions_get,
    symbol_setting,
    unrealized,
)

FEE_ASSET = "USDT"


def open_orders_list(*, sim: Simulation, symbol: str) -> list[PaperOrder]:
    """The symbol's open orders, oldest first (the partial index paper_order_open)."""
    return list(
        PaperOrder.objects.filter(
            account__name=sim.account_name, symbol=symbol, status__in=OPEN_ORDER_STATUSES
        ).order_by("id")
    )


def order_latest(*, sim: Simulation, symbol: str, client_order_id: str) -> PaperOrder:
    # Binance resolves a reused client id to its most recent order.
    order = (
        PaperOrder.objects.filter(
            account__name=sim.account_name, symbol=symbol, client_order_id=client_order_id
        )
        .order_by("-id")
        .first()
    )
    if order is None:
        raise OrderNotFoundError(
            f"paper exchange has no {symbol} order with client id {client_order_id}",
            exchange_code="-2013",
        )
    return order


def order_by_id(*, sim: Simulation, symbol: str, exchange_order_id: str) -> PaperOrder:
    order = (
        PaperOrder.objects.filter(
            account__name=sim.account_name, symbol=symbol, pk=int(exchange_order_id)
        ).first()
        if exchange_order_id.isdigit()
        else None
    )
    if order is None:
        raise OrderNotFoundError(
            f"paper exchange has no {symbol} order with id {exchange_order_id}",
            exchange_code="-2013",
        )
    return order


def fills_list(
    *,
    sim: Simulation,
    symbol: str,
    since: datetime | None = None,
    exchange_order_id: str | None = None,
) -> list[Fill]:
    """The symbol's trades, oldest first: since a time, of one order, or all."""
    trades = PaperTrade.objects.filter(account__name=sim.account_name, symbol=symbol)
    if since is not None:
        trades = trades.filter(executed_at__gte=since)
    if exchange_order_id is not None:
        trades = trades.filter(order_id=int(exchange_order_id))
    rows = trades.order_by("executed_at", "id").values(
        "id", "order_id", "order__client_order_id", "side", "position_side", "price",
        "quantity", "fee", "realized_pnl", "is_maker", "executed_at",
    )  # fmt: skip
    return [
        Fill(
            symbol=symbol,
            trade_id=str(row["id"]),
            exchange_order_id=str(row["order_id"]),
            side=row["side"],
            price=row["price"],
            quantity=row["quantity"],
            fee=row["fee"],
            fee_asset=FEE_ASSET,
            executed_at=row["executed_at"],
            position_side=row["position_side"],
            is_maker=row["is_maker"],
            realized_pnl=row["realized_pnl"],
            client_order_id=row["order__client_order_id"],
        )
        for row in rows
    ]


def balance_get(*, sim: Simulation) -> Balance:
    account = account_get(sim=sim)
    positions = positions_get(sim=sim)
    used = account.order_margin
    unrealized_total = acc.ZERO
    for position in positions.values():
        leverage, _ = symbol_setting(account, position.symbol)
        used += acc.initial_margin(position.quantity, position.entry_price, leverage)
        unrealized_total += unrealized(sim=sim, position=position)
    return Balance(
        asset=account.asset,
        total=account.wallet_balance + unrealized_total,
        available=available(sim=sim, account=account, positions=positions),
        used=used,
        unrealized_pnl=unrealized_total,
    )


def positions_list(*, sim: Simulation, symbols: list[str] | None = None) -> list[ExchangePosition]:
    """Non-flat positions, by symbol and side."""
    account = account_get(sim=sim)
    result = []
    for position in positions_get(sim=sim).values():
        if position.quantity == 0 or (symbols is not None and position.symbol not in symbols):
            continue
        leverage, isolated = symbol_setting(account, position.symbol)
        result.append(
            ExchangePosition(
                symbol=position.symbol,
                position_side=position.position_side,
                quantity=position.quantity,
                entry_price=position.entry_price,
                mark_price=sim.mark(position.symbol),
                unrealized_pnl=unrealized(sim=sim, position=position),
                leverage=leverage,
                margin_mode="isolated" if isolated else "cross",
            )
        )
    return sorted(result, key=lambda p: (p.symbol, p.position_side))


def to_exchange_order(order: PaperOrder) -> ExchangeOrder:
    return ExchangeOrder(
        symbol=order.symbol,
        client_order_id=order.client_order_id,
        exchange_order_id=str(order.pk),
        status=OrderState(order.status),
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        price=order.price,
        average_price=order.average_price,
        position_side=order.position_side or BOTH,
        reduce_only=order.reduce_only,
        updated_at=order.updated_at,
    )
