"""A short, human-sized summary of a strategy's persisted state (for the API and the
dashboard): how far an execution algorithm has got, what a signal strategy holds.

Reads the JSON each kind saves (Strategy.dump_state) defensively: a state written by an
older version, or none at all, gives a smaller summary, never an error.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

EXECUTION_KINDS = ("twap", "vwap", "iceberg", "trailing_stop")
SIGNAL_KINDS = ("technical", "combined")
#: The parameter that holds an execution algorithm's parent quantity.
TOTAL_PARAM = {"twap": "total_quantity", "vwap": "total_quantity", "iceberg": "total_quantity"}


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _plain(value: Decimal | None) -> str | None:
    if value is None:
        return None
    value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return f"{value:f}"


def _execution(kind: str, params: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    children = state.get("children") if isinstance(state.get("children"), dict) else {}
    total = _decimal(params.get(TOTAL_PARAM.get(kind, "quantity")))
    executed = _decimal(children.get("executed")) or Decimal(0)
    working = Decimal(0)
    live = children.get("live") if isinstance(children.get("live"), dict) else {}
    for child in live.values():
        if isinstance(child, list | tuple) and len(child) == 2:
            quantity, filled = _decimal(child[0]), _decimal(child[1])
            if quantity is not None and filled is not None:
                working += quantity - filled
    summary: dict[str, Any] = {
        "total_quantity": _plain(total),
        "executed_quantity": _plain(executed),
        "working_quantity": _plain(working),
        "working_orders": len(live),
    }
    if total:
        summary["progress_percent"] = _plain(
            min(executed / total * 100, Decimal(100)).quantize(Decimal("0.01"))
        )
    halted = state.get("halted")
    if kind in ("twap", "vwap"):
        slices = params.get("slices") if kind == "twap" else len(params.get("volume_profile") or [])
        slot = state.get("slot")
        if isinstance(slices, int) and slices > 0:
            summary["slices"] = slices
            done = slot + 1 if isinstance(slot, int) and slot >= 0 else 0
            summary["slices_due"] = min(done, slices)
    if kind == "trailing_stop":
        summary["triggered"] = bool(state.get("fired"))
        summary["best_price"] = _plain(_decimal(state.get("extreme")))
    if halted:
        summary["phase"], summary["halted_reason"] = "halted", str(halted)
    elif total is not None and executed >= total:
        summary["phase"] = "finished"
    elif executed or live:
        summary["phase"] = "working"
    elif kind == "trailing_stop":
        summary["phase"] = "trailing" if state.get("extreme") is not None else "waiting"
    else:
        summary["phase"] = "not_started"
    return summary


def _signal(kind: str, params: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    working = state.get("working") if isinstance(state.get("working"), dict) else {}
    bars = state.get("bars") if isinstance(state.get("bars"), dict) else {}
    summary: dict[str, Any] = {
        "signal": params.get("signal"),
        "position": _plain(_decimal(state.get("position")) or Decimal(0)),
        "target_position": _plain(_decimal(state.get("target")) or Decimal(0)),
        "entries": state.get("sent", 0) if isinstance(state.get("sent"), int) else 0,
        "working_orders": len(working),
        "last_close": _plain(_decimal(bars.get("close"))),
        "phase": "working" if working else ("watching" if state else "not_started"),
    }
    child = state.get("child")
    if kind == "combined" and isinstance(child, dict) and isinstance(child.get("state"), dict):
        child_kind = str(child.get("kind", ""))
        child_params = child.get("params") if isinstance(child.get("params"), dict) else {}
        if child_kind in EXECUTION_KINDS:
            summary["execution"] = _execution(child_kind, child_params, child["state"])
    return summary


def state_summary(kind: str, params: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """What a person wants to see about a strategy's progress; {} for unknown kinds."""
    params = params if isinstance(params, dict) else {}
    state = state if isinstance(state, dict) else {}
    if kind in EXECUTION_KINDS:
        return _execution(kind, params, state)
    if kind in SIGNAL_KINDS:
        return _signal(kind, params, state)
    return {}
