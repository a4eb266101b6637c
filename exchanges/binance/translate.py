"""ccxt's exceptions and Binance's answers, translated into exchanges.errors.

The translation reads the HTTP status and the Binance error code of the answer itself
(recorded by the client for every response), and only falls back on ccxt's exception
class when there was no answer. ccxt's classes alone are too coarse: a 429 and a 418
are both DDoSProtection, and on a non-production URL ccxt maps -2019 to a plain
ExchangeError.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ccxt
import requests
import urllib3

from exchanges.binance.throttle import parse_retry_after
from exchanges.errors import (
    ExchangeAuthError,
    ExchangeError,
    ExchangeUnavailableError,
    InsufficientFundsError,
    OrderNotFoundError,
    OrderRejectedError,
    OutcomeUnknownError,
    RateLimitedError,
    TimeDriftError,
    UnknownSymbolError,
)

AUTH_CODES = frozenset({"-1022", "-2014", "-2015", "-1002"})
FUNDS_CODES = frozenset({"-2018", "-2019"})
NOT_FOUND_CODES = frozenset({"-2011", "-2013"})
RATE_LIMIT_CODES = frozenset({"-1003"})
# Binance's own "we do not know what happened" answers: an order may or may not exist.
UNKNOWN_OUTCOME_CODES = frozenset({"-1000", "-1001", "-1006", "-1007"})


@dataclass(frozen=True, slots=True)
class Reply:
    """What the exchange answered: HTTP status, headers and its error code/message."""

    status: int
    headers: Mapping[str, str]
    code: str | None = None
    message: str | None = None


def _never_sent(exc: BaseException) -> bool:
    """True when the connection could not even be opened, so nothing reached Binance."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:
        if isinstance(
            current, requests.exceptions.ConnectTimeout | urllib3.exceptions.NewConnectionError
        ):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return True
        for arg in getattr(current, "args", ()):
            if isinstance(arg, urllib3.exceptions.MaxRetryError) and isinstance(
                arg.reason, urllib3.exceptions.NewConnectionError
            ):
                return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


def translate_error(
    exc: ccxt.BaseError, reply: Reply | None, *, operation: str, mutating: bool
) -> ExchangeError:
    """The exchanges.errors exception for a failed call.

    `mutating` calls (create, cancel) that may have reached Binance without an answer
    become OutcomeUnknownError; reads that fail the same way are merely unavailable.
    """
    code = reply.code if reply else None
    status = reply.status if reply else None
    detail = f"{code} {reply.message}" if reply and code else (f"HTTP {status}" if status else "")
    what = f"binance {operation}"
    exchange_code = code or (str(status) if status else None)

    if status in (418, 429) or code in RATE_LIMIT_CODES:
        banned = status == 418
        return RateLimitedError(
            f"{what}: {'IP banned' if banned else 'too many requests'} ({detail})",
            retry_after=parse_retry_after(reply.headers if reply else None),
            banned=banned,
            exchange_code=exchange_code,
        )
    if code == "-1021":
        return TimeDriftError(
            f"{what}: timestamp outside the recvWindow ({detail})", exchange_code=exchange_code
        )
    if (
        code in AUTH_CODES
        or status == 401
        or (reply is None and isinstance(exc, ccxt.AuthenticationError))
    ):
        return ExchangeAuthError(
            f"{what}: API key, signature or permissions refused ({detail or exc})",
            exchange_code=exchange_code,
        )
    if code in FUNDS_CODES:
        return InsufficientFundsError(
            f"{what}: insufficient margin ({detail})", exchange_code=exchange_code
        )
    if code in NOT_FOUND_CODES:
        return OrderNotFoundError(f"{what}: no such order ({detail})", exchange_code=exchange_code)
    if code == "-1121":
        return UnknownSymbolError(f"{what}: invalid symbol ({detail})", exchange_code=exchange_code)

    if reply is None:
        if isinstance(exc, ccxt.NetworkError):
            if mutating and not _never_sent(exc):
                return OutcomeUnknownError(
                    f"{what}: no answer ({type(exc).__name__}); the request may have been "
                    "executed: look the order up by its client order id before resending",
                )
            return ExchangeUnavailableError(f"{what}: Binance unreachable ({type(exc).__name__})")
        if isinstance(exc, ccxt.InvalidOrder):
            return OrderRejectedError(
                f"{what}: refused before sending: {exc}", code="exchange.rejected"
            )
        return ExchangeError(f"{what} failed before sending: {type(exc).__name__}: {exc}")

    status = reply.status
    uncertain = status >= 500 or status in (408,) or code in UNKNOWN_OUTCOME_CODES
    if uncertain:
        if mutating:
            return OutcomeUnknownError(
                f"{what}: Binance could not say whether it was executed ({detail}); look the "
                "order up by its client order id before resending",
                exchange_code=exchange_code,
            )
        return ExchangeUnavailableError(
            f"{what}: Binance unavailable ({detail})", exchange_code=exchange_code
        )
    if status == 403:
        # The web application firewall refused it: nothing was executed.
        return ExchangeUnavailableError(
            f"{what}: refused by Binance's firewall (HTTP 403)", exchange_code=exchange_code
        )
    if code is not None:
        return OrderRejectedError(f"{what} rejected: {detail}", exchange_code=exchange_code)
    return ExchangeError(f"{what} failed: HTTP {status}", exchange_code=exchange_code)
