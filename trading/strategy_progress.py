"""What a strategy's persisted state means, in words and numbers a trader reads.

StrategyConfig.state is whatever the strategy class dumps (trading.strategies.*): JSON
with Decimals as strings. This module reads it without importing or running the
strategy, so a page can show a half-done TWAP ("4 of 10 slices sent, 0.004 of 0.010
executed") even for a strategy that is switched off or errored. A state it does not
recognise (a newer shape, a hand edit) yields `recognised=False`, and the page falls back
to the raw JSON, which it always offers as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

ZERO = Decimal("0")
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class Item:
    label: str
    value: Any
    #: How the template formats value: text, qty, price, percent or time.
    kind: str = "text"


@dataclass
class Progress:
    #: One line: "3 of 10 slices sent · 0.006 of 0.010 executed".
    headline: str
    #: Executed share of the parent quantity, 0-100, for execution algorithms.
    percent: Decimal | None = None
    items: list[Item] = field(default_factory=list)
    #: Why the strategy stopped itself (every child refused, ...), if it did.
    halted: str = ""
    #: Why the desk has it paused (the kill switch), while it does.
    paused: str = ""
    started: bool = True
    recognised: bool = True


def strategy_progress(*, kind: str, params: dict[str, Any], state: dict[str, Any]) -> Progress:
    reader = _READERS.get(kind)
    if reader is None:
        return Progress(headline="No summary for this kind of strategy.", recognised=False)
    try:
        return reader(params, state or {})
    except (AttributeError, KeyError, TypeError, ValueError, InvalidOperation, IndexError):
        return Progress(headline="The saved state has an unexpected shape.", recognised=False)


def _dec(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    if whole <= 0:
        return ZERO
    return min(HUNDRED, (part * HUNDRED / whole)).quantize(Decimal("0.1"))


def _children(state: dict[str, Any]) -> tuple[Decimal, Decimal, int, int]:
    """(executed, working, live children, failures in a row) of an execution algorithm."""
    children = state.get("children") or {}
    live = children.get("live") or {}
    working = sum((Decimal(q) - Decimal(f) for q, f in live.values()), ZERO)
    return (
        Decimal(children.get("executed", "0")),
        working,
        len(live),
        int(children.get("failures", 0)),
    )


def _execution_items(
    total: Decimal, state: dict[str, Any], side: str
) -> tuple[list[Item], Decimal]:
    executed, working, live, failures = _children(state)
    items = [
        Item("Side", side),
        Item("Executed", executed, "qty"),
        Item("Parent quantity", total, "qty"),
        Item("Working (live child orders)", f"{_fmt(working)} in {live} order{_s(live)}"),
    ]
    if failures:
        items.append(Item("Child orders ended unfilled in a row", failures))
    paused = state.get("paused")
    if paused:
        items.append(Item("Paused since", _time(paused["since"]), "time"))
    if state.get("paused_seconds"):
        items.append(Item("Time paused so far", _duration(int(state["paused_seconds"]))))
    if state.get("risk_refused"):
        items.append(Item("Last child refused by risk guard", state["risk_refused"]))
    return items, executed


def _duration(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _paused(state: dict[str, Any]) -> str:
    paused = state.get("paused")
    return paused.get("reason", "paused") if paused else ""


def _fmt(value: Decimal) -> str:
    """As the pages show quantities: at most 8 decimals, no trailing zeros."""
    return format(round(value, 8).normalize(), "f") if value else "0"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _scheduled(params: dict[str, Any], state: dict[str, Any], slices: int) -> Progress:
    total = Decimal(str(params["total_quantity"]))
    items, executed = _execution_items(total, state, params["side"])
    slot = int(state.get("slot", -1))
    sent = max(0, min(slot + 1, slices))
    start = _time(state.get("start"))
    interval = timedelta(seconds=int(params["interval_seconds"]))
    finished = executed >= total
    items.insert(0, Item("Slices sent", f"{sent} of {slices}"))
    paused = _paused(state)
    if start is not None:
        items.append(Item("First slice", start, "time"))
        if finished:
            pass
        elif paused:
            items.append(Item("Next slice due", "when trading resumes (the schedule waits)"))
        else:
            # The schedule is shifted by the time it spent paused.
            shift = timedelta(seconds=int(state.get("paused_seconds", 0)))
            items.append(Item("Next slice due", start + shift + (slot + 1) * interval, "time"))
    items.append(Item("Interval", f"{params['interval_seconds']} s"))
    headline = (
        f"{sent} of {slices} slices sent · {_fmt(executed)} of {_fmt(total)} executed"
        if start is not None
        else f"Not started: {slices} slices of {_fmt(total)} due every "
        f"{params['interval_seconds']} s from the first tick"
    )
    return Progress(
        headline=f"Paused · {headline}" if paused else headline,
        percent=_percent(executed, total),
        items=items,
        halted=state.get("halted") or "",
        paused=paused,
        started=start is not None,
    )


def _twap(params: dict[str, Any], state: dict[str, Any]) -> Progress:
    return _scheduled(params, state, int(params["slices"]))


def _vwap(params: dict[str, Any], state: dict[str, Any]) -> Progress:
    return _scheduled(params, state, len(params["volume_profile"]))


def _iceberg(params: dict[str, Any], state: dict[str, Any]) -> Progress:
    total = Decimal(str(params["total_quantity"]))
    items, executed = _execution_items(total, state, params["side"])
    sent = int(state.get("sent", 0))
    items.insert(0, Item("Child orders sent", sent))
    items.append(Item("Visible quantity", _dec(params["visible_quantity"]), "qty"))
    if params.get("limit_price"):
        items.append(Item("Limit price", _dec(params["limit_price"]), "price"))
    if state.get("retry_at"):
        items.append(Item("Next child not before", _time(state["retry_at"]), "time"))
    headline = f"{sent} child order{_s(sent)} sent · {_fmt(executed)} of {_fmt(total)} executed"
    paused = _paused(state)
    return Progress(
        headline=f"Paused · {headline}" if paused else headline,
        percent=_percent(executed, total),
        items=items,
        halted=state.get("halted") or "",
        paused=paused,
        started=sent > 0,
    )


def _trailing_stop(params: dict[str, Any], state: dict[str, Any]) -> Progress:
    total = Decimal(str(params["quantity"]))
    items, executed = _execution_items(total, state, params["side"])
    extreme = _dec(state.get("extreme"))
    fired = int(state.get("fired", 0))
    trail = Decimal(str(params["trail_percent"]))
    sell = params["side"] == "SELL"
    activation = _dec(params.get("activation_price"))
    if fired:
        headline = f"Triggered: {_fmt(executed)} of {_fmt(total)} closed"
    elif extreme is None:
        headline = (
            f"Waiting to activate at {_fmt(activation)}"
            if activation is not None
            else "Waiting for the first price"
        )
    else:
        stop = extreme * (1 - trail / HUNDRED) if sell else extreme * (1 + trail / HUNDRED)
        headline = f"Trailing: stop at {_fmt(stop.quantize(Decimal('0.01')))}"
        items.insert(0, Item("Stop price", stop, "price"))
        items.insert(0, Item("Highest mid" if sell else "Lowest mid", extreme, "price"))
    items.append(Item("Trail", f"{_fmt(trail)} %"))
    if activation is not None:
        items.append(Item("Activation price", activation, "price"))
    items.append(Item("Stop orders sent", fired))
    return Progress(
        headline=headline,
        percent=_percent(executed, total) if fired else None,
        items=items,
        halted=state.get("halted") or "",
        started=extreme is not None,
    )


def _warming(needed: int, have: int, what: str, params: dict[str, Any]) -> str:
    """ "Warming up: needs 30 bars, has 12 (first signal in 18 min at the earliest)"."""
    seconds = (needed - have) * int(params.get("bar_seconds", 60))
    return (
        f"Warming up: needs {needed} {what}, has {have} "
        f"(first signal in {_wait(seconds)} at the earliest)"
    )


def _wait(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _technical_items(params: dict[str, Any], state: dict[str, Any]) -> tuple[list[Item], str]:
    """Items and headline; a strategy that cannot signal yet says so first."""
    warming = ""
    position = Decimal(state.get("position", "0"))
    working = state.get("working") or {}
    working_qty = sum((Decimal(q) - Decimal(f) for _, q, f in working.values()), ZERO)
    bars = state.get("bars") or {}
    items = [Item("Net position (own fills)", position, "qty")]
    items.append(Item("Working orders", f"{_fmt(working_qty)} in {len(working)}"))
    items.append(Item("Entries sent", int(state.get("sent", 0))))
    if state.get("manual_total"):
        items.append(Item("Moved by traders' closes", _dec(state["manual_total"]), "qty"))
    if bars.get("close") is not None:
        items.append(Item("Current bar close so far", _dec(bars["close"]), "price"))
    if bars.get("end"):
        items.append(Item("Bar closes at", _time(bars["end"]), "time"))
    if params["signal"] == "ma_cross":
        slow, fast = int(params["slow_period"]), int(params["fast_period"])
        ma = state.get("ma") or {}
        have = min(int(ma.get("filled", 0)), slow)
        signal = f"MA {fast}/{slow} cross"
        if have < slow:
            items.append(Item("Warming up", f"{have} of {slow} bars"))
            warming = _warming(slow, have, "bars", params)
        else:
            sign = ma.get("sign")
            trend = {1: "fast above slow", -1: "fast below slow"}.get(sign, "no cross yet")
            items.append(Item("Trend", trend))
    else:
        period = int(params["rsi_period"])
        rsi = state.get("rsi") or {}
        signal = f"RSI {period} ({params['rsi_oversold']}/{params['rsi_overbought']})"
        count = int(rsi.get("count", 0)) if rsi.get("period") == period else 0
        if count < period:
            items.append(Item("Warming up", f"{count} of {period} price changes"))
            warming = _warming(period, count, "bar closes", params)
        else:
            gain, loss = float(rsi["avg_gain"]), float(rsi["avg_loss"])
            if gain + loss:
                items.append(Item("RSI", f"{100 * gain / (gain + loss):.1f}"))
            zone = {1: "oversold (buy side)", -1: "overbought (sell side)"}.get(
                rsi.get("zone"), "neutral"
            )
            items.append(Item("Zone", zone))
    items.insert(0, Item("Signal", signal))
    headline = f"{signal} · position {_fmt(position)}"
    return items, f"{warming} · {headline}" if warming else headline


def _technical(params: dict[str, Any], state: dict[str, Any]) -> Progress:
    items, headline = _technical_items(params, state)
    return Progress(headline=headline, items=items, started=bool(state))


def _combined(params: dict[str, Any], state: dict[str, Any]) -> Progress:
    items, headline = _technical_items(params, state)
    child = state.get("child")
    percent = None
    halted = ""
    if child:
        inner = _READERS[child["kind"]](child["params"], child.get("state") or {})
        items.append(Item(f"Entry {child['entry']} ({child['kind'].upper()})", inner.headline))
        if child.get("reason"):
            items.append(Item("Entry reason", child["reason"]))
        percent, halted = inner.percent, inner.halted
        headline = f"{headline} · entry {child['entry']}: {inner.headline}"
    else:
        items.append(Item("Execution", f"{params['execution'].upper()} (idle)"))
    return Progress(
        headline=headline, percent=percent, items=items, halted=halted, started=bool(state)
    )


_READERS = {
    "twap": _twap,
    "vwap": _vwap,
    "iceberg": _iceberg,
    "trailing_stop": _trailing_stop,
    "technical": _technical,
    "combined": _combined,
}
