"""A fill on the paper exchange: the whole order executes at one price, its trade is
recorded, and the position and the wallet move. One implementation for an order that
fills on arrival (as taker) and a resting one the book crosses (as maker).

Called under the account lock (account.account_lock), inside its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from exchanges.base import OrderState
from exchanges.errors import OrderRejectedError
from exchanges.models import PaperAccount, PaperOrder, PaperPosition, PaperTrade
from exchanges.paper import accounting as acc
from exchanges.paper.account import Simulation

#: What a fill or an expiry changes on a resting order.
_CHANGED_ORDER_FIELDS = [
    "status",
    "filled_quantity",
    "average_price",
    "reserved_margin",
    "updated_at",
]
_POSITION_FIELDS = ["quantity", "entry_price", "realized_pnl", "updated_at"]


def fill_apply(
    *,
    sim: Simulation,
    account: PaperAccount,
    position: PaperPosition,
    order: PaperOrder,
    price: Decimal,
    is_maker: bool,
    now: datetime,
) -> PaperTrade:
    """Fill the whole order at `price`, in memory: the order, the position and the
    account's wallet and margin change, and the trade comes back unsaved.
    `fills_save` writes them."""
    quantity = order.quantity
    change = acc.position_apply(
        quantity=position.quantity,
        entry_price=position.entry_price,
        side=order.side,
        fill_quantity=quantity,
        price=price,
    )
    fee = acc.q8(price * quantity * (sim.maker_fee if is_maker else sim.taker_fee))
    account.order_margin = max(acc.ZERO, account.order_margin - order.reserved_margin)
    account.wallet_balance += change.realized_pnl - fee
    order.status = OrderState.FILLED
    order.filled_quantity, order.average_price = quantity, price
    order.reserved_margin, order.updated_at = acc.ZERO, now
    position.quantity, position.entry_price = change.quantity, change.entry_price
    position.realized_pnl += change.realized_pnl
    position.updated_at = now
    return PaperTrade(
        account_id=sim.account_name,
        order=order,
        symbol=order.symbol,
        side=order.side,
        position_side=order.position_side,
        price=price,
        quantity=quantity,
        fee=fee,
        realized_pnl=change.realized_pnl,
        is_maker=is_maker,
        executed_at=now,
    )


def may_fill(position: PaperPosition, order: PaperOrder) -> bool:
    """Whether a resting order may fill against the position: Binance expires a
    reduce-only (or hedge-mode closing) order whose position has gone instead."""
    try:
        acc.check_reduction(
            position=position.quantity,
            side=order.side,
            quantity=order.quantity,
            position_side=order.position_side,
            reduce_only=order.reduce_only,
        )
    except OrderRejectedError:
        return False
    return True


def order_expire(*, account: PaperAccount, order: PaperOrder, now: datetime) -> None:
    """Take a resting order off the book unfilled, in memory: its margin returns."""
    account.order_margin = max(acc.ZERO, account.order_margin - order.reserved_margin)
    order.status, order.reserved_margin, order.updated_at = OrderState.EXPIRED, acc.ZERO, now


def fills_save(
    *,
    account: PaperAccount,
    trades: list[PaperTrade],
    expired: Iterable[PaperOrder] = (),
    positions: Iterable[PaperPosition],
    now: datetime,
) -> None:
    """Write what `fill_apply` and `order_expire` changed: the orders (one new to the
    book inserted already filled), their trades, the positions and the account."""
    changed = [trade.order for trade in trades if trade.order.pk is not None]
    changed += expired
    for trade in trades:
        if trade.order.pk is None:
            trade.order.save()
    # A fill usually changes one order, and bulk_update's CASE expressions cost several
    # times a plain UPDATE to build; many orders still take one statement.
    if len(changed) == 1:
        changed[0].save(update_fields=_CHANGED_ORDER_FIELDS)
    elif changed:
        PaperOrder.objects.bulk_update(changed, _CHANGED_ORDER_FIELDS)
    PaperTrade.objects.bulk_create(trades)
    for position in positions:
        if position.pk is None:
            position.save()
        else:
            position.save(update_fields=_POSITION_FIELDS)
    account.updated_at = now
    account.save(update_fields=["wallet_balance", "order_margin", "updated_at"])
