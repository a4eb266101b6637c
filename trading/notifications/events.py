"""The notices the desk sends: one small builder per event kind, from the rows the
trading services already hold (no queries), so a hook is one `notify(...)` call."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trading.notifications.models import EventKind

if TYPE_CHECKING:
    from trading.models import Fill, Order, ReconcileIssue, RiskLimits, StrategyConfig


@dataclass(frozen=True)
class Notice:
    kind: str
    title: str
    body: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _num(value: Decimal | None) -> str:
    return "-" if value is None else f"{value.normalize():f}"


def _strategy(strategy_id: int | None) -> str:
    return f"strategy #{strategy_id}" if strategy_id else "manual"


def fill_notice(fill: Fill) -> Notice:
    order = fill.order
    return Notice(
        EventKind.FILL,
        f"Fill: {fill.side} {_num(fill.quantity)} {fill.symbol} @ {_num(fill.price)}",
        f"order {order.client_order_id} ({_strategy(fill.strategy_id)}), "
        f"fee {_num(fill.fee)} {fill.fee_asset}, realised PnL {_num(fill.realized_pnl)}",
    )


def order_rejected_notice(order: Order) -> Notice:
    return Notice(
        EventKind.ORDER_REJECTED,
        f"Order rejected: {order.side} {_num(order.quantity)} {order.symbol}",
        f"order {order.client_order_id} ({_strategy(order.strategy_id)}): "
        f"[{order.error_code}] {order.error_message}",
    )


def risk_trip_notice(order: Order, guard: str, reason: str) -> Notice:
    return Notice(
        EventKind.RISK_TRIPPED,
        f"Risk guard {guard} refused {order.side} {_num(order.quantity)} {order.symbol}",
        f"{reason} (order {order.client_order_id}, {_strategy(order.strategy_id)})",
    )


def kill_switch_notice(limits: RiskLimits, *, canceled: int = 0, failed: int = 0) -> Notice:
    if limits.kill_switch_engaged:
        return Notice(
            EventKind.KILL_SWITCH,
            "KILL SWITCH ENGAGED",
            f"{limits.kill_switch_reason}; {canceled} open order(s) cancelled, "
            f"{failed} could not be",
        )
    return Notice(
        EventKind.KILL_SWITCH,
        "Kill switch released",
        limits.kill_switch_reason or "trading may resume",
    )


def strategy_notice(config: StrategyConfig) -> Notice | None:
    from trading.models import StrategyStatus

    if config.status != StrategyStatus.ERRORED:
        return None
    return Notice(
        EventKind.STRATEGY_ERRORED,
        f"Strategy {config.name} errored and is halted",
        f"{config.kind} on {config.symbol}: {config.last_error}",
    )


def trader_stale_notice(beats: list[dict[str, Any]], *, stale_after_seconds: float) -> Notice:
    def line(beat: dict[str, Any]) -> str:
        last = beat.get("last_tick_at")
        when = last.isoformat(timespec="seconds") if isinstance(last, datetime) else "never"
        return f"{beat['symbol']}: last tick {when}"

    return Notice(
        EventKind.TRADER_STALE,
        f"Trader stale: no tick for {', '.join(b['symbol'] for b in beats)}",
        f"no tick within {stale_after_seconds:g} s. " + "; ".join(line(b) for b in beats),
    )


def stream_down_notice(exchange: str, symbol: str, detail: str = "") -> Notice:
    return Notice(
        EventKind.STREAM_DOWN,
        f"{exchange} stream down: ticks poll REST",
        f"{symbol}'s streamed book is not fresh; the tick reads REST until the stream "
        f"is back. {detail}".strip(),
    )


def reconcile_notice(issue: ReconcileIssue) -> Notice:
    label = f"{issue.symbol} {issue.subject}".strip()
    return Notice(
        EventKind.RECONCILE_ATTENTION,
        f"Reconciliation needs attention: {label}",
        f"{issue.exchange}: {issue.message}",
    )
