"""The in-process trading loop behind `manage.py runtrader` and the embedded `serve`.

Start-up: futures defaults (leverage, margin mode, position mode) are applied, the
prediction service is checked (trading goes on without it), and the record is
reconciled with the exchange. Then every interval each symbol ticks under its lock;
reconciliation runs again periodically.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections

from exchanges.base import Exchange, MarketSnapshot
from exchanges.errors import ExchangeError
from trading.locks import LockBusy, symbol_lock
from trading.services.account import account_refresh
from trading.services.futures import futures_settings_apply
from trading.services.orders import SendNow
from trading.services.reconciliation import ReconcileReport, reconcile
from trading.services.signals import prediction_check
from trading.services.strategy_manager import StrategyManager
from trading.services.tick import TickResult, tick_run
from trading.strategies.base import ExternalSignal

logger = logging.getLogger("trading.trader")

SignalSource = Callable[[str], ExternalSignal | None]


class Trader:
    def __init__(
        self,
        *,
        exchange: Exchange,
        symbols: list[str],
        interval: float,
        reconcile_every: float = 60.0,
        account_every: float = 10.0,
        signal_source: SignalSource | None = None,
        on_snapshot: Callable[[MarketSnapshot], object] | None = None,
    ):
        """`on_snapshot` gets every tick's snapshot (the market stream of the pages)."""
        self.exchange = exchange
        self.symbols = symbols
        self.interval = interval
        self.reconcile_every = reconcile_every
        self.account_every = account_every
        self._last_account: float | None = None
        self.signal_source = signal_source
        self.on_snapshot = on_snapshot
        self.manager = StrategyManager(exchange)
        self.submit = SendNow(exchange)
        self._last_reconcile = time.monotonic()

    # --- start-up -----------------------------------------------------------------

    def start(self, *, apply_futures_defaults: bool = True) -> ReconcileReport:
        logger.info(
            "trader starting on %s for %s, a tick every %.1f s",
            self.exchange.name,
            ", ".join(self.symbols),
            self.interval,
        )
        if apply_futures_defaults:
            self.apply_futures_defaults()
        prediction_check(self.symbols)
        report = reconcile(exchange=self.exchange, symbols=self.symbols)
        self._last_reconcile = time.monotonic()
        self.refresh_account()
        return report

    def refresh_account(self) -> None:
        """The account's balance from the exchange, kept for the pages; a failure is
        logged and tried again next round (the pages show when it was read)."""
        self._last_account = time.monotonic()
        try:
            account_refresh(exchange=self.exchange)
        except Exception:
            logger.warning("could not read the account balance", exc_info=True)

    def apply_futures_defaults(self) -> None:
        margin_mode = "isolated" if settings.ISOLATED else "cross"
        for index, symbol in enumerate(self.symbols):
            try:
                futures_settings_apply(
                    exchange=self.exchange,
                    symbol=symbol,
                    leverage=settings.LEVERAGE,
                    margin_mode=margin_mode,
                    # Position mode is account-wide: once is enough.
                    hedge=settings.HEDGE if index == 0 else None,
                )
            except ExchangeError as exc:
                # E.g. margin mode cannot change while a position is open: trade on with
                # what the account has, and say so.
                logger.error("could not apply futures defaults to %s: %s", symbol, exc.message)

    # --- running ------------------------------------------------------------------

    def run_round(self) -> list[TickResult]:
        """One tick of every symbol (a symbol whose previous tick still runs is skipped)."""
        results = []
        # Once a round, not before every tick: with health checks on, each check is a
        # query of its own. After a failed tick, again, so that a broken connection is
        # not handed to the next symbol.
        close_old_connections()
        for symbol in self.symbols:
            try:
                with symbol_lock(symbol):
                    results.append(self.tick(symbol))
            except LockBusy:
                logger.info("%s: previous tick still running; skipped", symbol)
            except Exception:
                logger.exception("%s tick failed", symbol)
                close_old_connections()
        if time.monotonic() - self._last_reconcile >= self.reconcile_every:
            self._last_reconcile = time.monotonic()
            try:
                reconcile(
                    exchange=self.exchange, symbols=self.symbols, settle_after=timedelta(seconds=30)
                )
            except Exception:
                logger.exception("periodic reconciliation failed")
        if (
            self._last_account is None
            or time.monotonic() - self._last_account >= self.account_every
        ):
            self.refresh_account()
        return results

    def tick(self, symbol: str) -> TickResult:
        return tick_run(
            symbol=symbol,
            exchange=self.exchange,
            manager=self.manager,
            submit=self.submit,
            signal_source=self.signal_source,
            on_snapshot=self.on_snapshot,
        )

    def run_forever(self, *, stop: threading.Event, duration: float | None = None) -> int:
        """Tick until `stop` is set (SIGINT/SIGTERM) or `duration` seconds passed.
        Returns the number of rounds run."""
        deadline = time.monotonic() + duration if duration else None
        rounds = 0
        while not stop.is_set():
            started = time.monotonic()
            self.run_round()
            rounds += 1
            if deadline and time.monotonic() >= deadline:
                break
            wait = self.interval - (time.monotonic() - started)
            if deadline:
                wait = min(wait, deadline - time.monotonic())
            if wait > 0:
                stop.wait(wait)
        logger.info("trader stopped after %d rounds", rounds)
        return rounds


def publish_market_stream(snapshot: MarketSnapshot) -> None:
    """Ticker and indicator events for the symbol's websocket group (the pages' charts)."""
    from prediction.services.market import publish_market_update

    publish_market_update(symbol=snapshot.symbol, snapshot=snapshot)
