"""Scripted market paths and a minimal stand-in for the order manager's reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from exchanges.base import MarketSnapshot, SymbolRules
from trading.strategies.base import OrderIntent, OrderUpdate, Strategy, build_strategy

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SYMBOL = "BTCUSDT"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def snap(seconds: float, bid: str | int, ask: str | int | None = None) -> MarketSnapshot:
    bid_d = Decimal(str(bid))
    return MarketSnapshot(
        SYMBOL, bid_d, Decimal(str(ask)) if ask is not None else bid_d, at(seconds)
    )


def minute_bars(prices: list) -> list[MarketSnapshot]:
    """One snapshot per minute, bid = ask = price: one bar each with bar_seconds 60."""
    return [snap(60 * i, p) for i, p in enumerate(prices)]


def update(intent: OrderIntent, status: str, filled: str | Decimal | None = None) -> OrderUpdate:
    quantity = intent.quantity if filled is None else Decimal(str(filled))
    return OrderUpdate(intent.key, intent.side, status, quantity, None)


def fill(strategy: Strategy, intents, status: str = "filled") -> None:
    for intent in intents:
        strategy.on_order_update(update(intent, status))


def rules(step: str = "0.001", tick: str = "0.01", min_qty: str | None = None) -> SymbolRules:
    return SymbolRules(
        symbol=SYMBOL,
        base_asset="BTC",
        quote_asset="USDT",
        tick_size=Decimal(tick),
        step_size=Decimal(step),
        min_qty=Decimal(min_qty or step),
        max_qty=Decimal("1000"),
        min_notional=Decimal("5"),
    )


def build(kind: str, params: dict, *, state=None, symbol_rules=None) -> Strategy:
    return build_strategy(kind=kind, symbol=SYMBOL, params=params, state=state, rules=symbol_rules)


def reloaded(strategy: Strategy) -> Strategy:
    """A new instance from the saved state, as the next tick after a restart builds it:
    the state goes through JSON (as StrategyConfig.state does)."""
    saved = json.loads(json.dumps(strategy.dump_state()))
    return build_strategy(
        kind=strategy.kind,
        symbol=strategy.symbol,
        params=strategy.params,
        state=saved,
        rules=strategy.rules,
    )


def run(
    strategy: Strategy, path: list[MarketSnapshot], *, fill_all: bool = True, restart: bool = False
) -> tuple[Strategy, list[tuple[int, OrderIntent]]]:
    """Feed `path`; every intent is filled at once when `fill_all`. With `restart` the
    strategy is rebuilt from its saved state before every snapshot and every update.
    Returns the last instance and (snapshot index, intent) pairs."""
    sent = []
    for i, snapshot in enumerate(path):
        if restart:
            strategy = reloaded(strategy)
        intents = strategy.on_market_data(snapshot)
        for intent in intents:
            sent.append((i, intent))
            if fill_all:
                if restart:
                    strategy = reloaded(strategy)
                strategy.on_order_update(update(intent, "filled"))
    return strategy, sent


def keyed(sent) -> list[tuple[int, str, str, Decimal]]:
    return [(i, intent.key, intent.side, intent.quantity) for i, intent in sent]
