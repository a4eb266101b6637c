"""Closed klines into the candle table, and the bars missed while disconnected."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from exchanges.base import Exchange
from exchanges.streams.events import ClosedKline

logger = logging.getLogger("trading.streams")

#: How far back the bars missed while disconnected are fetched at most.
CANDLE_CATCH_UP_LIMIT = timedelta(hours=24)


def closed_kline_store(*, closed: ClosedKline, exchange: Exchange) -> None:
    from prediction.services.candles import candles_store

    candles_store(
        symbol=closed.symbol,
        timeframe=closed.timeframe,
        candles=[closed.candle],
        source=exchange.name,
    )


def candles_catch_up(*, exchange: Exchange, symbols: list[str]) -> None:
    """Closed 1m bars missed while the kline stream was down, over REST: from the last
    stored bar of each symbol (a symbol without any is not backfilled here)."""
    from prediction.models import Candle
    from prediction.services.candles import candles_fetch

    for symbol in symbols:
        last = (
            Candle.objects.filter(symbol=symbol, timeframe="1m", synthetic=False)
            .order_by("-open_time")
            .values_list("open_time", flat=True)
            .first()
        )
        if last is None:
            continue
        since = max(last + timedelta(minutes=1), timezone.now() - CANDLE_CATCH_UP_LIMIT)
        try:
            candles_fetch(exchange=exchange, symbol=symbol, timeframe="1m", since=since)
        except Exception:
            logger.warning("streams: missed %s bars not fetched", symbol, exc_info=True)
