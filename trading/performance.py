"""How the desk is doing over time: closed round-trip trades and realised PnL per day,
week, month, symbol and strategy, and the cumulative curve. Reads only (selectors).

Two ledgers, both from the fills in the database:
- The desk's (account) numbers: each fill's realised PnL on the account position
  (Fill.realized_pnl, gross) less its fee. Per day, week, month, symbol and the
  cumulative curve use these; they add up to RealizedPnlHour and to the account
  positions' realised PnL to the cent.
- Each strategy's own book (its fills only, as StrategyPosition keeps it; fills of no
  strategy are the trader's "manual" book): closed trades and PnL per strategy. When
  strategies trade against each other on one symbol, the account realises what they
  netted, so the sum over books can differ from the desk's total by that.

Days, weeks (Monday to Sunday) and months are UTC.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Sum
from django.db.models.functions import Coalesce, TruncDay, TruncMonth, TruncWeek

from trading.accounting import apply_fill
from trading.models import Fill, StrategyConfig

ZERO = Decimal("0")
_SUM = {"output_field": DecimalField(max_digits=30, decimal_places=12)}
PERIODS = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
#: The ranges the pages and the API offer: how far back from now (None: everything).
RANGES = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30), "all": None}
MANUAL = "manual"


def range_start(name: str, now: datetime) -> datetime | None:
    """Start of a named range ending now; ValueError for an unknown name."""
    if name not in RANGES:
        raise ValueError(f"unknown range {name!r}; allowed: {', '.join(RANGES)}")
    span = RANGES[name]
    return None if span is None else now - span


def _fills(exchange_name: str, since: datetime | None = None):
    fills = Fill.objects.filter(exchange=exchange_name)
    return fills if since is None else fills.filter(executed_at__gte=since)


# --- the desk's numbers -------------------------------------------------------------------


def pnl_by_period(
    *, exchange_name: str, period: str, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Realised PnL net of fees per UTC day, week or month, oldest first:
    [{"start", "realized", "fees", "fills"}]."""
    trunc = PERIODS[period]
    rows = (
        _fills(exchange_name, since)
        .annotate(start=trunc("executed_at", tzinfo=UTC))
        .values("start")
        .annotate(
            gross=Coalesce(Sum("realized_pnl", **_SUM), ZERO, **_SUM),
            fees=Coalesce(Sum("fee", **_SUM), ZERO, **_SUM),
            count=Count("id"),
        )
        .order_by("start")
    )
    return [
        {
            "start": row["start"],
            "realized": row["gross"] - row["fees"],
            "fees": row["fees"],
            "fills": row["count"],
        }
        for row in rows
    ]


def pnl_by_symbol(*, exchange_name: str, since: datetime | None = None) -> list[dict[str, Any]]:
    rows = (
        _fills(exchange_name, since)
        .values("symbol")
        .annotate(
            gross=Coalesce(Sum("realized_pnl", **_SUM), ZERO, **_SUM),
            fees=Coalesce(Sum("fee", **_SUM), ZERO, **_SUM),
            count=Count("id"),
        )
        .order_by("symbol")
    )
    return [
        {
            "symbol": row["symbol"],
            "realized": row["gross"] - row["fees"],
            "fees": row["fees"],
            "fills": row["count"],
        }
        for row in rows
    ]


def pnl_total(*, exchange_name: str, since: datetime | None = None) -> dict[str, Decimal]:
    sums = _fills(exchange_name, since).aggregate(
        gross=Coalesce(Sum("realized_pnl", **_SUM), ZERO, **_SUM),
        fees=Coalesce(Sum("fee", **_SUM), ZERO, **_SUM),
    )
    return {"realized": sums["gross"] - sums["fees"], "fees": sums["fees"]}


def cumulative_pnl(*, exchange_name: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """The realised PnL net of fees added up fill by fill from `since` (from zero), one
    point per second at most (the last of that second): [{"time", "value"}]."""
    rows = (
        _fills(exchange_name, since)
        .annotate(net=F("realized_pnl") - F("fee"))
        .order_by("executed_at", "id")
        .values_list("executed_at", "net")
    )
    points: list[dict[str, Any]] = []
    total = ZERO
    for executed_at, net in rows:
        total += net
        second = executed_at.replace(microsecond=0)
        if points and points[-1]["time"] == second:
            points[-1]["value"] = total
        else:
            points.append({"time": second, "value": total})
    return points


# --- the strategies' books: closed trades -------------------------------------------------


@dataclass
class ClosedTrade:
    """One closed trade of a book: from flat to flat (a flip closes one and opens the
    next with what is left)."""

    strategy_id: int | None
    strategy_name: str
    symbol: str
    position_side: str
    #: "long" or "short".
    direction: str
    entry_at: datetime
    exit_at: datetime
    #: Largest size the position reached.
    quantity: Decimal
    #: Quantity-weighted averages of the fills that opened and closed it.
    entry_price: Decimal
    exit_price: Decimal
    fees: Decimal
    #: Realised on the book, net of every fee paid in the trade.
    pnl: Decimal

    @property
    def duration(self) -> timedelta:
        return self.exit_at - self.entry_at


@dataclass
class _Book:
    quantity: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees_paid: Decimal = ZERO
    open_trade: dict[str, Any] | None = None
    trades: list[ClosedTrade] = field(default_factory=list)
    #: Net PnL the last fill realised on this book.
    last_net: Decimal = ZERO


def _replay(exchange_name: str):
    """Every book's fills in execution order: (book key, fill, net PnL the fill realised
    on its book), and the books with their closed trades."""
    names = dict(StrategyConfig.objects.values_list("pk", "name"))
    books: dict[tuple, _Book] = defaultdict(_Book)
    fills = (
        Fill.objects.filter(exchange=exchange_name)
        .order_by("executed_at", "id")
        .only(
            "strategy_id",
            "symbol",
            "position_side",
            "side",
            "quantity",
            "price",
            "fee",
            "executed_at",
        )
    )
    realized_by_fill = []
    for fill in fills:
        key = (fill.strategy_id, fill.symbol, fill.position_side)
        book = books[key]
        _apply(book, fill, names)
        realized_by_fill.append((key, fill, book.last_net))
    return books, realized_by_fill


def _apply(book: _Book, fill: Fill, names: dict[int, str]) -> None:
    before_quantity, before_realized = book.quantity, book.realized_pnl
    signed = fill.quantity if fill.side == "BUY" else -fill.quantity
    # A flip closes the trade at the part that reaches zero; the rest opens the next.
    closing = (
        min(fill.quantity, abs(before_quantity))
        if before_quantity and (before_quantity > 0) != (signed > 0)
        else ZERO
    )
    opening = fill.quantity - closing
    apply_fill(
        book,
        side=fill.side,
        position_side=fill.position_side,
        quantity=fill.quantity,
        price=fill.price,
        fee=fill.fee,
    )
    book.last_net = book.realized_pnl - before_realized
    trade = book.open_trade
    closing_fee = fill.fee * closing / fill.quantity if fill.quantity else ZERO
    if closing and trade is not None:
        trade["exit_qty"] += closing
        trade["exit_value"] += closing * fill.price
        trade["fees"] += closing_fee
        trade["pnl"] += book.last_net + (fill.fee - closing_fee)  # the opening part's fee
        if book.quantity == 0 or (book.quantity > 0) != (before_quantity > 0):
            book.trades.append(_closed(trade, fill, names))
            book.open_trade = None
    if opening and book.quantity != 0:
        opening_fee = fill.fee - closing_fee
        if book.open_trade is None:
            book.open_trade = {
                "strategy_id": fill.strategy_id,
                "symbol": fill.symbol,
                "position_side": fill.position_side,
                "direction": "long" if book.quantity > 0 else "short",
                "entry_at": fill.executed_at,
                "entry_qty": ZERO,
                "entry_value": ZERO,
                "exit_qty": ZERO,
                "exit_value": ZERO,
                "fees": ZERO,
                "pnl": ZERO,
                "max_qty": ZERO,
            }
        trade = book.open_trade
        trade["entry_qty"] += opening
        trade["entry_value"] += opening * fill.price
        trade["fees"] += opening_fee
        trade["pnl"] -= opening_fee
    if book.open_trade is not None:
        trade = book.open_trade
        trade["max_qty"] = max(trade["max_qty"], abs(book.quantity))


def _closed(trade: dict[str, Any], fill: Fill, names: dict[int, str]) -> ClosedTrade:
    strategy_id = trade["strategy_id"]
    return ClosedTrade(
        strategy_id=strategy_id,
        strategy_name=names.get(strategy_id, MANUAL) if strategy_id else MANUAL,
        symbol=trade["symbol"],
        position_side=trade["position_side"],
        direction=trade["direction"],
        entry_at=trade["entry_at"],
        exit_at=fill.executed_at,
        quantity=trade["max_qty"],
        entry_price=trade["entry_value"] / trade["entry_qty"],
        exit_price=trade["exit_value"] / trade["exit_qty"],
        fees=trade["fees"],
        pnl=trade["pnl"],
    )


def closed_trades(
    *,
    exchange_name: str,
    since: datetime | None = None,
    symbol: str | None = None,
    strategy_id: int | None = None,
) -> list[ClosedTrade]:
    """Round trips closed since `since` (by exit time), newest first."""
    books, _ = _replay(exchange_name)
    trades = [
        trade
        for book in books.values()
        for trade in book.trades
        if (since is None or trade.exit_at >= since)
        and (symbol is None or trade.symbol == symbol)
        and (strategy_id is None or trade.strategy_id == strategy_id)
    ]
    return sorted(trades, key=lambda t: t.exit_at, reverse=True)


def pnl_by_strategy(*, exchange_name: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """Realised PnL net of fees on each strategy's own book (and the manual one), from
    the fills since `since`, with its closed trades and wins in that time."""
    books, realized = _replay(exchange_name)
    names = dict(StrategyConfig.objects.values_list("pk", "name"))
    rows: dict[int | None, dict[str, Any]] = {}
    for (strategy_id, _, _), fill, net in realized:
        if since is not None and fill.executed_at < since:
            continue
        row = rows.setdefault(
            strategy_id,
            {
                "strategy_id": strategy_id,
                "strategy_name": names.get(strategy_id, MANUAL) if strategy_id else MANUAL,
                "realized": ZERO,
                "fees": ZERO,
                "fills": 0,
                "trades": 0,
                "wins": 0,
            },
        )
        row["realized"] += net
        row["fees"] += fill.fee
        row["fills"] += 1
    for (strategy_id, _, _), book in books.items():
        for trade in book.trades:
            if (since is None or trade.exit_at >= since) and strategy_id in rows:
                rows[strategy_id]["trades"] += 1
                rows[strategy_id]["wins"] += trade.pnl > 0
    return sorted(rows.values(), key=lambda r: (r["strategy_id"] is None, r["strategy_name"]))
