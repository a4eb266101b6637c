"""The exchange errors the order manager acts on.

Connector-specific exceptions (ccxt's, HTTP clients') never leave `exchanges/`: each
connector translates them into these. Each class says what the caller should do.
`exchange_code` keeps the exchange's own code (e.g. "-2019") for the order record.
"""

from __future__ import annotations

from typing import Any

from xquant.errors import ApplicationError


class ExchangeError(ApplicationError):
    code = "exchange.error"
    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        exchange_code: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message, code=code, extra=extra)
        self.exchange_code = exchange_code

    @property
    def record_code(self) -> str:
        """What to store in Order.error_code: the exchange's code if it gave one."""
        return self.exchange_code or self.code


class TimeDriftError(ExchangeError):
    """Our timestamp is outside the exchange's recvWindow (Binance -1021): sync the
    clock, then retry."""

    code = "exchange.time_drift"
    http_status = 503


class RateLimitedError(ExchangeError):
    """Too many requests (HTTP 429) or an IP ban (418): wait, then retry."""

    code = "exchange.rate_limited"
    http_status = 503

    def __init__(
        self, message: str, *, retry_after: float | None = None, banned: bool = False, **kwargs: Any
    ):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.banned = banned


class OutcomeUnknownError(ExchangeError):
    """The request may have reached the exchange (timeout, 5xx, dropped connection):
    look the order up by its client order id before sending anything again."""

    code = "exchange.outcome_unknown"
    http_status = 504


class ExchangeUnavailableError(ExchangeError):
    """The exchange could not be reached and nothing was changed (a read failed, or
    the connection was refused before sending): retrying is safe."""

    code = "exchange.unavailable"
    http_status = 503


class OrderRejectedError(ExchangeError):
    """The exchange (or a local filter, code "local.*") refused the order: retrying the
    same request cannot succeed."""

    code = "exchange.rejected"
    http_status = 400


class InsufficientFundsError(OrderRejectedError):
    """Not enough margin (Binance -2019, -2018)."""

    code = "exchange.insufficient_funds"


class OrderNotFoundError(ExchangeError):
    """No such order (Binance -2013 on query, -2011 on cancel)."""

    code = "exchange.order_not_found"
    http_status = 404


class UnknownSymbolError(ExchangeError):
    code = "exchange.unknown_symbol"
    http_status = 400


class ExchangeAuthError(ExchangeError):
    """Bad API key, signature or permissions: nothing will work until fixed."""

    code = "exchange.auth"
    http_status = 502
