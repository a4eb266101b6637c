"""The strategy contract.

A strategy is pure: it receives a market snapshot (and updates about its own orders),
keeps its own state, and returns order intents. No ORM, no network, no clock reads:
the caller passes time in through the snapshot. That is what lets one class trade live
(trading.services.tick) and run in backtests (prediction.backtest) unchanged.

State round-trips through JSON (StrategyConfig.state) after every tick, so a restart
resumes a half-done TWAP instead of starting it again.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from exchanges.base import MarketSnapshot, SymbolRules
from trading.strategies.params import PARAMS_BY_KIND, validate_params
from xquant.errors import ConflictError


@dataclass(slots=True)
class OrderIntent:
    """An order a strategy wants placed. The order manager turns it into an Order."""

    #: Unique within one strategy for its lifetime ("slice-3", "entry-17"): the database
    #: refuses a second order for the same (strategy, key), so an intent re-emitted after
    #: a crash can never become two orders. Updates about the order come back by key.
    key: str
    symbol: str
    side: str
    quantity: Decimal
    order_type: str = "MARKET"
    price: Decimal | None = None
    position_side: str = "BOTH"
    reduce_only: bool = False
    time_in_force: str | None = None
    #: Human-readable reason, shown on the order ("TWAP slice 3/10", "MA 10/30 cross up").
    reason: str = ""


@dataclass(slots=True)
class OrderUpdate:
    """What happened to an order a strategy asked for (status values of OrderStatus)."""

    key: str
    side: str
    status: str
    #: Cumulative.
    filled_quantity: Decimal
    average_price: Decimal | None = None
    #: Why it ended unfilled, when it did: "risk.kill_switch", an exchange code, ...
    error_code: str = ""


@dataclass(slots=True)
class ExternalSignal:
    """An optional outside opinion (the prediction service) a strategy may size by."""

    #: +1 up, -1 down, 0 no view.
    direction: int
    #: 0..1.
    confidence: Decimal


NO_INTENTS: tuple[OrderIntent, ...] = ()


class StrategyHalted(ConflictError):
    """The strategy cannot go on without an operator (e.g. every child order refused).

    Raised from on_market_data on every call once halted, so the caller isolates the
    strategy and shows the reason; the state that explains it is kept.
    """

    code = "strategy_halted"


class Strategy(abc.ABC):
    kind: ClassVar[str]

    def __init__(
        self,
        *,
        symbol: str,
        params: dict[str, Any],
        state: dict[str, Any] | None = None,
        rules: SymbolRules | None = None,
    ):
        """`params` as stored (JSON) or already validated; validated again here.

        With `rules` (the symbol's exchange filters) quantities are put on the step grid;
        without them no rounding is done.
        """
        self.symbol = symbol
        self.rules = rules
        self.params = validate_params(self.kind, params)
        self.load_state(state or {})

    @property
    def name(self) -> str:
        return self.kind

    @abc.abstractmethod
    def on_market_data(
        self, snapshot: MarketSnapshot, *, signal: ExternalSignal | None = None
    ) -> list[OrderIntent] | tuple[OrderIntent, ...]:
        """Intents for this snapshot (often none: return NO_INTENTS, it allocates nothing)."""

    def on_order_update(self, update: OrderUpdate) -> None:  # noqa: B027 - optional hook
        """Called for every status or fill change of an order this strategy asked for."""

    @abc.abstractmethod
    def load_state(self, state: dict[str, Any]) -> None:
        """Restore from `dump_state()` output ({} for a fresh start)."""

    @abc.abstractmethod
    def dump_state(self) -> dict[str, Any]:
        """JSON-safe state (Decimals as strings)."""

    @property
    def finished(self) -> bool:
        """True when an execution algorithm has worked its whole parent quantity."""
        return False

    #: Whether the caller pauses it (instead of feeding it market data) while the desk
    #: refuses every order (the kill switch). The others run on: their intents are
    #: refused and recorded, and a trailing stop keeps following the price.
    pausable: ClassVar[bool] = False

    def pause(self, *, at: datetime, reason: str) -> None:  # noqa: B027 - optional hook
        """Stop sending orders from `at` (only called when `pausable`)."""

    def resume(self, *, at: datetime) -> None:  # noqa: B027 - optional hook
        """Carry on from `at` after a pause."""


STRATEGY_CLASSES: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    assert cls.kind in PARAMS_BY_KIND, f"no parameter spec for strategy kind {cls.kind!r}"
    STRATEGY_CLASSES[cls.kind] = cls
    return cls


def build_strategy(
    *,
    kind: str,
    symbol: str,
    params: dict[str, Any],
    state: dict[str, Any] | None = None,
    rules: SymbolRules | None = None,
) -> Strategy:
    # Importing the package registers every kind.
    import trading.strategies  # noqa: F401

    if kind not in STRATEGY_CLASSES:
        validate_params(kind, params)  # raises ValidationError naming the allowed kinds
    return STRATEGY_CLASSES[kind](symbol=symbol, params=params, state=state, rules=rules)
