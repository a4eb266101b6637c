"""The paper exchange: simulated fills on offline market data, state in the database."""

from __future__ import annotations

from exchanges.paper.exchange import PaperExchange

__all__ = ["PaperExchange"]
