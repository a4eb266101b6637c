"""Arguments shared by `optimize` and `walkforward`: the study's search definition."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError

from prediction.management.commands.backtest import parse_pairs
from prediction.management.commands.fetch_ohlcv import parse_moment
from prediction.timeframes import TIMEFRAMES


def _scalar(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_space(items: list[str]) -> dict[str, Any]:
    """--param fast=5:50:5 (int range with a step), x=0.5:3.0[:0.5] (float range),
    ma_type=sma,ema (choices)."""
    space: dict[str, Any] = {}
    for name, spec in parse_pairs(items, "--param").items():
        if ":" in spec:
            parts = [_scalar(p) for p in spec.split(":")]
            if len(parts) not in (2, 3) or not all(
                isinstance(p, int | float) and not isinstance(p, bool) for p in parts
            ):
                raise CommandError(f"--param {name}={spec}: a range is low:high or low:high:step")
            kind = "int" if all(isinstance(p, int) for p in parts) else "float"
            entry: dict[str, Any] = {"type": kind, "low": parts[0], "high": parts[1]}
            if len(parts) == 3:
                entry["step"] = parts[2]
            space[name] = entry
        else:
            space[name] = {"type": "categorical", "choices": [_scalar(c) for c in spec.split(",")]}
    return space


def add_study_arguments(parser) -> None:
    parser.add_argument("strategy")
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--timeframe", default="1h", choices=TIMEFRAMES)
    parser.add_argument("--start", help="UTC start, e.g. 2021-10-01")
    parser.add_argument("--end", help="UTC end (exclusive)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        help="a searched parameter: fast=5:50:5 (int range, step), x=0.5:3.0 (float), "
        "ma_type=sma,ema (choices); repeat it",
    )
    parser.add_argument("--space", help="the whole parameter space as a JSON object")
    parser.add_argument(
        "--fixed", action="append", default=[], help="a parameter held fixed: name=value"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        dest="backtest_settings",
        help="backtest setting name=value (fee_rate, slippage_bps, sizing, ...)",
    )
    parser.add_argument(
        "--objective",
        default="sharpe",
        choices=["sharpe", "sortino", "total_return", "calmar", "profit_factor"],
    )
    parser.add_argument("--min-trades", type=int, help="constraint: at least this many trades")
    parser.add_argument(
        "--max-drawdown", type=float, help="constraint: drawdown at most this fraction (0.25)"
    )
    parser.add_argument("--sampler", default="tpe", choices=["grid", "random", "tpe"])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--synthetic", action="store_true", help="use synthetic candles")
    parser.add_argument("--no-progress", action="store_true")


def study_kwargs(opts: dict[str, Any]) -> dict[str, Any]:
    space = parse_space(opts["param"])
    if opts["space"]:
        try:
            extra = json.loads(opts["space"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--space is not JSON: {exc}") from None
        if not isinstance(extra, dict):
            raise CommandError("--space must be a JSON object")
        space.update(extra)
    constraints = {}
    if opts["min_trades"] is not None:
        constraints["min_trades"] = opts["min_trades"]
    if opts["max_drawdown"] is not None:
        constraints["max_drawdown"] = opts["max_drawdown"]
    return {
        "strategy": opts["strategy"],
        "symbol": opts["symbol"].upper(),
        "timeframe": opts["timeframe"],
        "start": parse_moment(opts["start"]) if opts["start"] else None,
        "end": parse_moment(opts["end"]) if opts["end"] else None,
        "space": space,
        "fixed_params": {k: _scalar(v) for k, v in parse_pairs(opts["fixed"], "--fixed").items()},
        "settings": parse_pairs(opts["backtest_settings"], "--set"),
        "objective": opts["objective"],
        "constraints": constraints,
        "sampler": opts["sampler"],
        "n_trials": opts["trials"],
        "seed": opts["seed"],
        "synthetic": opts["synthetic"],
    }
