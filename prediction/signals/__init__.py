"""Signal strategies by name."""

from __future__ import annotations

from typing import Any

from prediction.signals.base import SignalResult, SignalStrategy, unknown_strategy
from prediction.signals.strategies import Bollinger, MacdStochRsi, MeanReversion, TrendFollowing

SIGNAL_STRATEGIES: dict[str, type[SignalStrategy]] = {
    cls.name: cls for cls in (TrendFollowing, MeanReversion, MacdStochRsi, Bollinger)
}


def signal_strategy_build(name: str, params: dict[str, Any] | None = None) -> SignalStrategy:
    """The named strategy with validated parameters (xquant ValidationError otherwise)."""
    try:
        cls = SIGNAL_STRATEGIES[name]
    except KeyError:
        raise unknown_strategy(name, list(SIGNAL_STRATEGIES)) from None
    return cls(params)


__all__ = ["SIGNAL_STRATEGIES", "SignalResult", "SignalStrategy", "signal_strategy_build"]
