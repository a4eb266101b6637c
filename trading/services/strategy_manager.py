"""The strategy manager: runs the active strategies of a symbol on a snapshot.

It keeps the strategy instances of this process between ticks and rebuilds one from the
database whenever its config or state changed elsewhere (another process ticked it, an
operator edited it), so instances are never trusted beyond what the database says. A
strategy that raises is isolated: logged, marked errored, skipped until switched on
again; the others run on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exchanges.base import Exchange, MarketSnapshot
from trading.models import StrategyConfig
from trading.selectors.tick import News, Version, order_news, strategies_load, strategy_versions
from trading.strategies.base import (
    ExternalSignal,
    OrderIntent,
    OrderUpdate,
    Strategy,
    StrategyHalted,
    build_strategy,
)

logger = logging.getLogger("trading.strategies")


@dataclass
class StrategyRun:
    """One strategy's part of a tick."""

    config: StrategyConfig
    strategy: Strategy | None
    intents: list[OrderIntent] = field(default_factory=list)
    #: Orders whose news was fed to the strategy: (pk, status, filled) as fed.
    fed: list[tuple[int, str, Any]] = field(default_factory=list)
    error: str = ""
    #: New JSON state, or None when it did not change.
    new_state: dict[str, Any] | None = None
    finished: bool = False
    #: The strategy was paused or resumed in this run (the pages are told).
    pause_changed: bool = False
    #: It halted itself (StrategyHalted): new_state is the state that explains why.
    halted: bool = False


@dataclass
class _Cached:
    config: StrategyConfig
    strategy: Strategy
    dumped: dict[str, Any]


class StrategyManager:
    def __init__(self, exchange: Exchange):
        self.exchange = exchange
        self._cache: dict[int, _Cached] = {}

    def _configs(self, versions: list[Version]) -> list[StrategyConfig]:
        """The active configs, loading in full only those whose cached copy is outdated."""
        stale = [
            pk
            for pk, updated_at, version in versions
            if (cached := self._cache.get(pk)) is None
            or cached.config.updated_at != updated_at
            or cached.config.state_version != version
        ]
        loaded = strategies_load(ids=stale)
        for pk in stale:
            self._cache.pop(pk, None)
        return [
            loaded[pk] if pk in loaded else self._cache[pk].config
            for pk, _, _ in versions
            if pk in loaded or pk in self._cache
        ]

    def _instance(self, config: StrategyConfig) -> tuple[Strategy, dict[str, Any]]:
        cached = self._cache.get(config.pk)
        if cached is not None and cached.config is config:
            return cached.strategy, cached.dumped
        strategy = build_strategy(
            kind=config.kind,
            symbol=config.symbol,
            params=config.params,
            state=config.state,
            rules=self.exchange.symbol_rules(config.symbol),
        )
        self._cache[config.pk] = _Cached(config, strategy, config.state)
        return strategy, config.state

    def remember(self, config: StrategyConfig, state_version: int, dumped: dict[str, Any]) -> None:
        """After the tick saved a strategy's state: the instance is current at that version."""
        cached = self._cache.get(config.pk)
        if cached is not None:
            config.state, config.state_version = dumped, state_version
            cached.dumped = dumped

    def forget(self, config_id: int) -> None:
        self._cache.pop(config_id, None)

    def run(
        self,
        *,
        symbol: str,
        snapshot: MarketSnapshot,
        signal_source: Callable[[str], ExternalSignal | None] | None = None,
        versions: list[Version] | None = None,
        news: list[News] | None = None,
        paused: str | None = None,
    ) -> list[StrategyRun]:
        """Run the symbol's active strategies. `versions` and `news` are the tick's read
        of them (the tick); read here when not given.

        With `paused` (why: the kill switch is engaged) the strategies that can pause are
        paused before their news is fed, so what the switch cancelled is not held against
        them, and get no market data; the first run without it resumes them."""
        if versions is None:
            versions = strategy_versions(symbol=symbol)
        configs = self._configs(versions)
        if not configs:
            return []
        news = _order_news(order_news(symbol=symbol) if news is None else news)
        # The outside view is fetched only when a strategy sizes by it.
        signal = (
            signal_source(symbol)
            if signal_source is not None
            and any(c.params.get("size_by_confidence") for c in configs)
            else None
        )
        runs = []
        for config in configs:
            run = StrategyRun(config=config, strategy=None)
            runs.append(run)
            try:
                strategy, before = self._instance(config)
                run.strategy = strategy
                hold = paused is not None and strategy.pausable
                was_paused = bool(before.get("paused"))
                if hold:
                    strategy.pause(at=snapshot.timestamp, reason=paused)
                for pk, update in news.get(config.pk, ()):
                    strategy.on_order_update(update)
                    run.fed.append((pk, update.status, update.filled_quantity))
                if not hold:
                    if was_paused:
                        strategy.resume(at=snapshot.timestamp)
                    run.intents = list(strategy.on_market_data(snapshot, signal=signal))
                run.pause_changed = hold != was_paused
                for intent in run.intents:
                    if intent.symbol != symbol:
                        raise ValueError(
                            f"intent {intent.key} is for {intent.symbol}, not {symbol}"
                        )
                after = strategy.dump_state()
                run.new_state = after if after != before else None
                run.finished = strategy.finished
            except StrategyHalted as exc:
                # Expected: it stopped itself and says why (no traceback to read). Its
                # state is kept with the error: it explains the halt.
                logger.warning(
                    "strategy %s (%s) halted on %s: %s",
                    config.name,
                    config.kind,
                    symbol,
                    exc.message,
                )
                run.error = exc.message
                run.intents = []
                run.halted = True
                run.new_state = run.strategy.dump_state() if run.strategy is not None else None
                self.forget(config.pk)
            except Exception as exc:  # a broken strategy must not stop the others
                logger.exception("strategy %s (%s) failed on %s", config.name, config.kind, symbol)
                run.error = f"{type(exc).__name__}: {exc}"
                run.intents = []
                self.forget(config.pk)
        return runs


def _order_news(rows: list[News]) -> dict[int, list[tuple[int, OrderUpdate]]]:
    news: dict[int, list[tuple[int, OrderUpdate]]] = {}
    for pk, strategy_id, key, side, status, filled, average, code in rows:
        update = OrderUpdate(
            key=key,
            side=side,
            status=status,
            filled_quantity=filled,
            average_price=average,
            error_code=code,
        )
        news.setdefault(strategy_id, []).append((pk, update))
    return news
