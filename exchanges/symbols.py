"""The symbols the offline exchanges (paper, dry-run) know, with their filters and the
parameters of their simulated markets.

BTCUSDT's filters are Binance's (exchangeInfo, 2024/25); the others are realistic but
illustrative. Any other `…USDT` symbol gets generic rules, so a TRADING_SYMBOLS entry the
catalogue does not list still trades offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchanges.base import SymbolRules

D = Decimal


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    rules: SymbolRules
    #: Where the synthetic random walk is centred.
    base_price: Decimal
    #: Annualised volatility of the synthetic walk's log price.
    volatility: float
    #: Typical bid-ask spread in basis points of the price (never less than one tick).
    spread_bps: float
    #: Typical base-asset volume traded per second, and quantity shown at the top of book.
    volume_per_second: float
    top_of_book_qty: float
    #: The replay feed derives this symbol from the bundled BTC candles times this factor.
    replay_scale: Decimal


def _rules(
    symbol: str,
    *,
    tick: str,
    step: str,
    min_qty: str,
    max_qty: str,
    min_notional: str,
    min_price: str,
    max_price: str,
    market_max_qty: str,
) -> SymbolRules:
    return SymbolRules(
        symbol=symbol,
        base_asset=symbol.removesuffix("USDT"),
        quote_asset="USDT",
        tick_size=D(tick),
        step_size=D(step),
        min_qty=D(min_qty),
        max_qty=D(max_qty),
        min_notional=D(min_notional),
        min_price=D(min_price),
        max_price=D(max_price),
        market_min_qty=D(min_qty),
        market_max_qty=D(market_max_qty),
    )


CATALOGUE: dict[str, SymbolSpec] = {
    spec.rules.symbol: spec
    for spec in (
        SymbolSpec(
            rules=_rules(
                "BTCUSDT",
                tick="0.10",
                step="0.001",
                min_qty="0.001",
                max_qty="1000",
                min_notional="100",
                min_price="556.80",
                max_price="4529764",
                market_max_qty="120",
            ),
            base_price=D("60000"),
            volatility=0.60,
            spread_bps=0.02,
            volume_per_second=2.0,
            top_of_book_qty=3.0,
            replay_scale=D("1"),
        ),
        SymbolSpec(
            rules=_rules(
                "ETHUSDT",
                tick="0.01",
                step="0.001",
                min_qty="0.001",
                max_qty="10000",
                min_notional="20",
                min_price="39.86",
                max_price="306177",
                market_max_qty="2000",
            ),
            base_price=D("3000"),
            volatility=0.75,
            spread_bps=0.05,
            volume_per_second=40.0,
            top_of_book_qty=50.0,
            replay_scale=D("0.075"),
        ),
        SymbolSpec(
            rules=_rules(
                "BNBUSDT",
                tick="0.010",
                step="0.01",
                min_qty="0.01",
                max_qty="100000",
                min_notional="5",
                min_price="6.600",
                max_price="100000",
                market_max_qty="2000",
            ),
            base_price=D("550"),
            volatility=0.70,
            spread_bps=0.2,
            volume_per_second=15.0,
            top_of_book_qty=30.0,
            replay_scale=D("0.01"),
        ),
        SymbolSpec(
            rules=_rules(
                "SOLUSDT",
                tick="0.0100",
                step="0.01",
                min_qty="0.01",
                max_qty="1000000",
                min_notional="5",
                min_price="0.4200",
                max_price="6857",
                market_max_qty="5000",
            ),
            base_price=D("150"),
            volatility=0.95,
            spread_bps=0.7,
            volume_per_second=120.0,
            top_of_book_qty=200.0,
            replay_scale=D("0.0028"),
        ),
        SymbolSpec(
            rules=_rules(
                "XRPUSDT",
                tick="0.0001",
                step="0.1",
                min_qty="0.1",
                max_qty="10000000",
                min_notional="5",
                min_price="0.0143",
                max_price="100000",
                market_max_qty="2000000",
            ),
            base_price=D("0.60"),
            volatility=0.90,
            spread_bps=1.7,
            volume_per_second=9000.0,
            top_of_book_qty=30000.0,
            replay_scale=D("0.000012"),
        ),
    )
}

# Generic rules for a USDT symbol the catalogue does not list: a coin around 10 USDT.
_GENERIC_BASE_PRICE = D("10")


def symbol_spec(symbol: str) -> SymbolSpec | None:
    """The spec of a catalogue symbol, generic rules for another `…USDT` symbol, else None."""
    spec = CATALOGUE.get(symbol)
    if spec is not None:
        return spec
    if not symbol.endswith("USDT") or len(symbol) <= 4 or not symbol.isalnum():
        return None
    return SymbolSpec(
        rules=_rules(
            symbol,
            tick="0.001",
            step="0.1",
            min_qty="0.1",
            max_qty="1000000",
            min_notional="5",
            min_price="0.001",
            max_price="100000",
            market_max_qty="100000",
        ),
        base_price=_GENERIC_BASE_PRICE,
        volatility=0.9,
        spread_bps=2.0,
        volume_per_second=500.0,
        top_of_book_qty=1000.0,
        replay_scale=_GENERIC_BASE_PRICE / D("50000"),
    )


def offline_symbols(extra: list[str] | tuple[str, ...] = ()) -> dict[str, SymbolSpec]:
    """The catalogue plus `extra` symbols (e.g. settings.TRADING_SYMBOLS) it lacks."""
    specs = dict(CATALOGUE)
    for symbol in extra:
        spec = symbol_spec(symbol)
        if spec is not None:
            specs.setdefault(symbol, spec)
    return specs
