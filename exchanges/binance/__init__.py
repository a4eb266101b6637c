"""Binance USD-M futures connector (ccxt binanceusdm)."""

from __future__ import annotations

from exchanges.binance.exchange import BinanceExchange

__all__ = ["BinanceExchange"]
