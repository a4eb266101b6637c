"""What every strategy kind promises the strategy manager and the backtester."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path

import pytest

import trading.strategies
from trading.models import OrderStatus
from trading.strategies import common
from trading.strategies.base import STRATEGY_CLASSES, build_strategy
from trading.strategies.combined import Combined
from trading.strategies.iceberg import Iceberg
from trading.strategies.params import PARAMS_BY_KIND
from trading.strategies.technical import Technical
from trading.strategies.trailing_stop import TrailingStop
from trading.strategies.twap import TWAP
from trading.strategies.vwap import VWAP
from xquant.errors import ValidationError

from .support import SYMBOL, build, keyed, rules, run, snap

PARAMS = {
    "twap": {"side": "BUY", "total_quantity": "1", "slices": 5, "interval_seconds": 60},
    "vwap": {
        "side": "SELL",
        "total_quantity": "2",
        "volume_profile": ["1", "2", "3", "0", "4"],
        "interval_seconds": 120,
    },
    "iceberg": {"side": "BUY", "total_quantity": "1", "visible_quantity": "0.3"},
    "trailing_stop": {"side": "SELL", "quantity": "0.5", "trail_percent": "1", "reduce_only": True},
    "technical": {"signal": "ma_cross", "quantity": "0.5", "fast_period": 3, "slow_period": 8},
    "combined": {
        "signal": "rsi",
        "quantity": "1",
        "rsi_period": 5,
        "rsi_oversold": "40",
        "rsi_overbought": "60",
        "allow_short": True,
        "execution": "iceberg",
        "visible_quantity": "0.4",
    },
}
RSI_TECHNICAL = {"signal": "rsi", "quantity": "0.5", "rsi_period": 5, "allow_short": True}


def wavy_path(minutes: int = 60) -> list:
    """Snapshots every 15 s with a 0.02 spread around a wave: deterministic, with swings
    big enough for every kind to act several times."""
    path = []
    for i in range(minutes * 4):
        mid = 100 + 4 * math.sin(i / 9) + 1.5 * math.sin(i / 2.3)
        bid = Decimal(f"{mid - 0.01:.2f}")
        path.append(snap(15 * i, bid, bid + Decimal("0.02")))
    return path


def test_every_kind_with_parameters_has_a_registered_strategy_class():
    assert {
        "twap": TWAP,
        "vwap": VWAP,
        "iceberg": Iceberg,
        "trailing_stop": TrailingStop,
        "technical": Technical,
        "combined": Combined,
    } == STRATEGY_CLASSES
    assert set(STRATEGY_CLASSES) == set(PARAMS_BY_KIND)


def test_the_order_statuses_strategies_know_are_the_models_statuses():
    assert {
        common.PENDING,
        common.SUBMITTING,
        common.OPEN,
        common.PARTIALLY_FILLED,
        common.FILLED,
        common.CANCELED,
        common.REJECTED,
        common.EXPIRED,
    } == set(OrderStatus.values)
    assert {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
    } == common.TERMINAL_STATUSES


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("twap", {**PARAMS["twap"], "slices": 0}, "slices"),
        ("vwap", {**PARAMS["vwap"], "volume_profile": ["0"]}, "volume_profile"),
        ("iceberg", {**PARAMS["iceberg"], "visible_quantity": "2"}, "visible_quantity"),
        ("trailing_stop", {**PARAMS["trailing_stop"], "quantity": "-1"}, "quantity"),
        ("technical", {**PARAMS["technical"], "fast_period": 9}, "fast_period"),
        ("combined", {**PARAMS["combined"], "execution": "twap"}, "slices"),
        ("technical", {**PARAMS["technical"], "size_by_confidence": "maybe"}, "size_by_confidence"),
    ],
)
def test_constructing_a_strategy_with_bad_params_raises_validation_error(kind, params, field):
    with pytest.raises(ValidationError) as excinfo:
        build(kind, params)
    assert field in excinfo.value.extra["fields"]


def test_a_configured_quantity_off_the_step_grid_is_refused_when_rules_are_given():
    step = rules(step="0.01")
    with pytest.raises(ValidationError, match=r"visible_quantity 0\.305 is not a multiple"):
        build("iceberg", {**PARAMS["iceberg"], "visible_quantity": "0.305"}, symbol_rules=step)
    with pytest.raises(ValidationError, match=r"quantity 0\.505 is not a multiple"):
        build("technical", {**PARAMS["technical"], "quantity": "0.505"}, symbol_rules=step)
    assert build("iceberg", PARAMS["iceberg"], symbol_rules=step).rules is step


def test_build_strategy_refuses_an_unknown_kind_with_the_allowed_ones():
    with pytest.raises(ValidationError, match="Allowed: twap, vwap, iceberg"):
        build_strategy(kind="grid", symbol=SYMBOL, params={})


CASES = [*PARAMS.items(), ("technical", RSI_TECHNICAL)]


@pytest.mark.parametrize(("kind", "params"), CASES, ids=[*PARAMS, "technical-rsi"])
def test_every_kind_continues_exactly_where_it_stopped_when_rebuilt_from_saved_state(kind, params):
    path = wavy_path()
    straight_strategy, straight = run(build(kind, params), path)
    restarted_strategy, restarted = run(build(kind, params), path, restart=True)
    assert straight, "the path should make every kind act"
    assert keyed(restarted) == keyed(straight)
    assert [i.reason for _, i in restarted] == [i.reason for _, i in straight]
    assert restarted_strategy.dump_state() == straight_strategy.dump_state()


@pytest.mark.parametrize(("kind", "params"), CASES, ids=[*PARAMS, "technical-rsi"])
def test_state_is_plain_json_with_decimals_as_strings(kind, params):
    strategy, _ = run(build(kind, params), wavy_path(20))
    state = strategy.dump_state()
    assert json.loads(json.dumps(state)) == state

    def leaves(value):
        if isinstance(value, dict):
            for v in value.values():
                yield from leaves(v)
        elif isinstance(value, list):
            for v in value:
                yield from leaves(v)
        else:
            yield value

    # Numbers are ints (counters) or strings (Decimals, floats, datetimes): never a float
    # that a JSON column could round.
    assert not [v for v in leaves(state) if isinstance(v, float)]


@pytest.mark.parametrize(("kind", "params"), list(PARAMS.items()), ids=list(PARAMS))
def test_every_intent_key_is_unique_for_the_strategys_life(kind, params):
    _, sent = run(build(kind, params), wavy_path(), restart=True)
    keys = [intent.key for _, intent in sent]
    assert len(keys) == len(set(keys))


def test_strategy_modules_stay_pure():
    """No ORM, network, clock or randomness inside a strategy: time comes from snapshots."""
    package = Path(trading.strategies.__file__).parent
    forbidden_import = re.compile(
        r"^\s*(?:from|import)\s+(django\.db|trading\.models|trading\.services|requests|"
        r"httpx|ccxt|socket|random|time|secrets)\b",
        re.MULTILINE,
    )
    clock = re.compile(r"\.now\(|utcnow\(|time\.time\(|perf_counter\(|monotonic\(")
    offenders = {
        path.name: forbidden_import.findall(source) + clock.findall(source)
        for path in package.glob("*.py")
        for source in [path.read_text()]
    }
    assert {name: found for name, found in offenders.items() if found} == {}
