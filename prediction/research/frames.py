"""Candle frames for trials, read once per process and kept (a study's trials all run on
the same bars; a worker runs many trials of few studies)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

import pandas as pd

from prediction.selectors import candle_frame

_CACHE_SIZE = 8
_lock = threading.Lock()
_frames: OrderedDict[tuple, pd.DataFrame] = OrderedDict()


def study_frame(
    *,
    symbol: str,
    timeframe: str,
    start: datetime | None,
    end: datetime | None,
    synthetic: bool,
    min_bars: int,
) -> pd.DataFrame:
    """Stored candles of a study's range. Candles are history: a range already read is
    not read again by this process (new bars of a range that reaches the present are
    picked up by the next study, which asks with its own range)."""
    key = (symbol, timeframe, start, end, synthetic)
    with _lock:
        frame = _frames.get(key)
        if frame is not None:
            _frames.move_to_end(key)
            return frame
    frame = candle_frame(
        symbol=symbol,
        timeframe=timeframe,
        start=start,
        end=end,
        synthetic=synthetic,
        min_bars=min_bars,
    )
    with _lock:
        _frames[key] = frame
        while len(_frames) > _CACHE_SIZE:
            _frames.popitem(last=False)
    return frame


def study_frames_clear() -> None:
    with _lock:
        _frames.clear()
