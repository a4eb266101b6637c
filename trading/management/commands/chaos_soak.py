"""`manage.py chaos_soak --minutes 10`: the trader against the loopback Binance emulator
(tests/binance_emulator) while faults are injected in sequences, then a count of what
matters: duplicates, lost fills, stuck orders and position mismatches, all of which
must be 0.

Strategies trade and manual orders arrive (as through the API: the manual retry
policy, 202 when the answer is lost) while the exchange drops answers after and before
taking effect, answers 5xx to submissions and lookups, rate-limits (429) and bans
(418), jumps its clock, and the trader process is SIGKILLed and restarted. At the end
the faults stop, the trader settles (`runtrader --once`, `reconcile`), and the record
is compared with the exchange's own books.

Run it on a throwaway PostgreSQL database (`make soak`): it writes orders, fills and
positions, and everything it starts listens on 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from trading.models import Fill, Order, OrderSource, Position, StrategyConfig
from trading.selectors import risk_limits_get
from trading.services.leases import IN_FLIGHT
from trading.services.orders import MANUAL_RETRY_POLICY, order_place
from trading.services.strategies import strategy_config_create
from trading.strategies.base import OrderIntent

ORDER = "/fapi/v1/order"
SYMBOLS = ("BTCUSDT", "ETHUSDT")
QUANTITY = {"BTCUSDT": Decimal("0.002"), "ETHUSDT": Decimal("0.05")}
TICK = {"BTCUSDT": Decimal("0.1"), "ETHUSDT": Decimal("0.01")}
STRATEGIES = [
    ("soak BTC MA cross", "technical", "BTCUSDT",
     {"signal": "ma_cross", "quantity": "0.002", "bar_seconds": 2, "fast_period": 3, "slow_period": 8}),
    ("soak ETH RSI", "technical", "ETHUSDT",
     {"signal": "rsi", "quantity": "0.05", "bar_seconds": 2, "rsi_period": 4}),
    ("soak BTC TWAP buy", "twap", "BTCUSDT",
     {"side": "BUY", "total_quantity": "0.2", "slices": 100, "interval_seconds": 3}),
    ("soak BTC TWAP sell", "twap", "BTCUSDT",
     {"side": "SELL", "total_quantity": "0.2", "slices": 100, "interval_seconds": 4}),
    ("soak ETH TWAP buy", "twap", "ETHUSDT",
     {"side": "BUY", "total_quantity": "5", "slices": 100, "interval_seconds": 3}),
    ("soak ETH iceberg sell", "iceberg", "ETHUSDT",
     {"side": "SELL", "total_quantity": "5", "visible_quantity": "0.05"}),
    ("soak BTC iceberg buy", "iceberg", "BTCUSDT",
     {"side": "BUY", "total_quantity": "0.2", "visible_quantity": "0.002"}),
    ("soak BTC VWAP sell", "vwap", "BTCUSDT",
     {"side": "SELL", "total_quantity": "0.2", "interval_seconds": 3,
      "volume_profile": ["1", "2", "3", "2", "1"] * 20}),
]  # fmt: skip


class Command(BaseCommand):
    help = "Trade against the Binance emulator under injected faults; count what went wrong."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--minutes", type=float, default=10.0)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--kill-every", type=float, default=45.0, help="seconds, on average")

    def handle(self, *args, minutes: float, seed: int, kill_every: float, **options) -> None:
        try:
            from tests.binance_emulator import BinanceEmulator
        except ImportError as exc:
            raise CommandError("chaos_soak needs the repository's tests/ package") from exc
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        with BinanceEmulator(balance="10000000") as emulator:
            self.emulator = emulator
            self._prepare()
            workers = [
                threading.Thread(target=self._walk_the_market, daemon=True),
                threading.Thread(target=self._place_manual_orders, daemon=True),
            ]
            for worker in workers:
                worker.start()
            trader = self._start_trader()
            deadline = time.monotonic() + minutes * 60
            next_kill = time.monotonic() + self.rng.expovariate(1 / kill_every)
            kills = faults = 0
            while time.monotonic() < deadline:
                time.sleep(self.rng.uniform(1.0, 4.0))
                faults += self._inject_a_fault()
                if time.monotonic() >= next_kill:
                    trader.send_signal(signal.SIGKILL)
                    trader.wait()
                    kills += 1
                    trader = self._start_trader()
                    next_kill = time.monotonic() + self.rng.expovariate(1 / kill_every)
            self.stop.set()
            for worker in workers:
                worker.join(timeout=60)
            emulator.clear_faults()
            emulator.clock_offset_ms = 0
            trader.send_signal(signal.SIGTERM)
            trader.wait(timeout=120)
            self.stdout.write(f"{minutes:g} min: {faults} faults injected, {kills} kills")
            self._settle()
            line, ok = self._count()
        self.stdout.write(line)
        if not ok:
            raise CommandError("the record and the exchange disagree (see the line above)")

    # --- set-up ---------------------------------------------------------------------
    def _prepare(self) -> None:
        limits = risk_limits_get()
        limits.max_order_notional = Decimal("100000")
        limits.max_position_notional = Decimal("10000000")
        limits.daily_loss_limit = Decimal("10000000")
        limits.save()
        StrategyConfig.objects.filter(name__startswith="soak ").update(is_active=False)
        for name, kind, symbol, params in STRATEGIES:
            strategy_config_create(
                name=f"{name} {int(time.time())}",
                kind=kind,
                symbol=symbol,
                params=params,
                is_active=True,
            )

    def _env(self) -> dict[str, str]:
        import os

        db = connection.settings_dict
        if connection.vendor == "postgresql":
            database_url = (
                f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:"
                f"{db['PORT']}/{db['NAME']}"
            )
        else:
            database_url = f"sqlite:///{db['NAME']}"
        return {
            **os.environ,
            "DATABASE_URL": database_url,
            "EXCHANGE": "binance",
            "USE_MOCK": "false",
            "EXCHANGE_API_KEY": self.emulator.api_key,
            "EXCHANGE_API_SECRET": self.emulator.api_secret,
            "EXCHANGE_BASE_URL": self.emulator.url,
            "EXCHANGE_TIMEOUT_SECONDS": "2",
            "TRADING_SYMBOLS": ",".join(SYMBOLS),
            "LOG_LEVEL": "WARNING",
        }

    def _manage(self, *args: str, **popen) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self._env(),
            stdout=subprocess.DEVNULL,
            **popen,
        )

    def _start_trader(self) -> subprocess.Popen:
        return self._manage("runtrader", "--interval", "1", stderr=subprocess.DEVNULL)

    # --- the market and the desk ------------------------------------------------------
    def _walk_the_market(self) -> None:
        books = {s: self.emulator.account.books[s][0] for s in SYMBOLS}
        while not self.stop.wait(0.5):
            for symbol in SYMBOLS:
                step = TICK[symbol] * self.rng.randint(-40, 40)
                books[symbol] = max(books[symbol] + step, TICK[symbol] * 1000)
                self.emulator.set_book(symbol, books[symbol], books[symbol] + TICK[symbol])

    def _place_manual_orders(self) -> None:
        from exchanges.binance import BinanceExchange

        exchange = BinanceExchange(
            api_key=self.emulator.api_key,
            api_secret=self.emulator.api_secret,
            base_url=self.emulator.url,
            timeout=2.0,
            redis_url="",
        )
        try:
            while not self.stop.wait(self.rng.uniform(1.0, 5.0)):
                symbol = self.rng.choice(SYMBOLS)
                side = self.rng.choice(["BUY", "SELL"])
                bid, ask = self.emulator.account.books[symbol]
                limit = self.rng.random() < 0.5
                offset = TICK[symbol] * self.rng.randint(0, 50) * (-1 if side == "BUY" else 1)
                intent = OrderIntent(
                    key="",
                    symbol=symbol,
                    side=side,
                    quantity=QUANTITY[symbol],
                    order_type="LIMIT" if limit else "MARKET",
                    price=((bid if side == "BUY" else ask) + offset) if limit else None,
                    time_in_force="GTC" if limit else None,
                )
                try:
                    order_place(
                        intent=intent,
                        exchange=exchange,
                        source=OrderSource.API,
                        policy=MANUAL_RETRY_POLICY,
                    )
                except Exception as exc:  # an API client would see an error; go on
                    self.stderr.write(f"manual order: {type(exc).__name__}: {exc}")
                close_old_connections()
        finally:
            exchange.close()
            connection.close()

    # --- faults -----------------------------------------------------------------------
    def _inject_a_fault(self) -> int:
        emulator, rng = self.emulator, self.rng
        html = "<html>Service Unavailable</html>"
        choice = rng.randrange(9)
        if choice == 0:
            emulator.drop("POST", ORDER, process=True)
        elif choice == 1:
            emulator.drop("POST", ORDER, process=False)
        elif choice == 2:
            emulator.fail("POST", ORDER, status=503, body=html, process=rng.random() < 0.5)
        elif choice == 3:  # a lost answer, then lookups that keep failing
            emulator.drop("POST", ORDER, process=True)
            emulator.fail("GET", ORDER, status=502, body=html, times=rng.randint(3, 12))
        elif choice == 4:
            path = rng.choice(
                ["/fapi/v1/openOrders", "/fapi/v1/userTrades", "/fapi/v3/positionRisk"]
            )
            emulator.fail("GET", path, status=503, body=html, times=rng.randint(1, 4))
        elif choice == 5:
            emulator.fail(
                "POST", ORDER, status=429, headers={"Retry-After": "1"},
                body={"code": -1003, "msg": "Too many requests."},
            )  # fmt: skip
        elif choice == 6:
            emulator.fail(
                rng.choice(["GET", "POST"]), ORDER, status=418, headers={"Retry-After": "2"},
                body={"code": -1003, "msg": "Way too many requests; IP banned."},
            )  # fmt: skip
        elif choice == 7:  # the exchange's clock jumps beyond the recvWindow, or back
            emulator.clock_offset_ms = rng.choice([0, 0, 8_000, -7_000])
        else:
            emulator.delay("POST", ORDER, seconds=3.0, process=True)  # past the timeout
        return 1

    # --- the end ------------------------------------------------------------------------
    def _settle(self) -> None:
        for args in (("runtrader", "--once"), ("reconcile",), ("reconcile",)):
            process = self._manage(*args, stderr=subprocess.PIPE)
            _, err = process.communicate(timeout=600)
            if process.returncode != 0:
                raise CommandError(f"{' '.join(args)} exited {process.returncode}: {err[-2000:]}")

    def _count(self) -> tuple[str, bool]:
        account = self.emulator.account
        exchange_orders = dict(account.orders)
        ours = Order.objects.filter(exchange="binance").exclude(source=OrderSource.RECONCILIATION)
        our_ids = set(ours.values_list("client_order_id", flat=True))
        sent = Counter(o["clientOrderId"] for o in exchange_orders.values())
        duplicates = sum(n - 1 for cid, n in sent.items() if n > 1 and cid in our_ids)
        # One of our orders recorded a second time, as adopted.
        duplicates += (
            Order.objects.filter(exchange="binance", source=OrderSource.RECONCILIATION)
            .exclude(exchange_order_id=None)
            .filter(
                exchange_order_id__in=[
                    str(o["orderId"])
                    for o in exchange_orders.values()
                    if o["clientOrderId"] in our_ids
                ]
            )
            .count()
        )
        rows = {
            (f.symbol, f.trade_id): f.order.exchange_order_id
            for f in Fill.objects.filter(exchange="binance").select_related("order")
        }
        lost = sum(
            1
            for trade in account.trades
            if rows.get((trade["symbol"], str(trade["id"]))) != str(trade["orderId"])
        )
        by_exchange_id = {str(o["orderId"]): o for o in exchange_orders.values()}
        stuck = ours.filter(status__in=IN_FLIGHT).count()
        for order in ours.exclude(exchange_order_id=None):
            theirs = by_exchange_id.get(order.exchange_order_id)
            if theirs is not None and _status(theirs["status"]) != order.status:
                stuck += 1
        theirs_positions = {k: v["amt"] for k, v in account.positions.items() if v["amt"] != 0}
        our_positions = {
            (p.symbol, p.position_side): p.quantity
            for p in Position.objects.filter(exchange="binance")
            if p.quantity != 0
        }
        mismatches = sum(
            1
            for key in set(theirs_positions) | set(our_positions)
            if theirs_positions.get(key, 0) != our_positions.get(key, 0)
        )
        line = (
            f"intents {ours.count()}, exchange orders {len(exchange_orders)}, "
            f"duplicates {duplicates}, lost fills {lost}, stuck {stuck}, "
            f"position mismatches {mismatches}"
        )
        return line, duplicates == lost == stuck == mismatches == 0


def _status(exchange_status: str) -> str:
    return {
        "NEW": "open",
        "PARTIALLY_FILLED": "partially_filled",
        "FILLED": "filled",
        "CANCELED": "canceled",
        "EXPIRED": "expired",
        "REJECTED": "rejected",
    }[exchange_status]
