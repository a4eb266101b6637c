"""Each risk guard on its own, with the reason it gives."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from trading.risk import ProposedOrder, RiskState, risk_check


def state(**overrides):
    values = dict(
        max_order_notional=D("10000"),
        max_position_notional=D("50000"),
        daily_loss_limit=D("1000"),
        kill_switch_engaged=False,
        kill_switch_reason="",
        loss_today=D("0"),
        positions={},
        working={},
    )
    values.update(overrides)
    return RiskState(**values)


def order(side="BUY", qty="0.1", price="50000", **kw):
    return ProposedOrder(
        symbol="BTCUSDT",
        side=side,
        position_side=kw.pop("position_side", "BOTH"),
        quantity=D(qty),
        price=D(price),
        **kw,
    )


def test_an_ordinary_order_passes():
    assert risk_check(order(), state()).allowed


def test_kill_switch_refuses_everything_with_its_reason():
    decision = risk_check(
        order(reduce_only=True),
        state(kill_switch_engaged=True, kill_switch_reason="exchange outage"),
    )
    assert not decision.allowed
    assert decision.guard == "kill_switch"
    assert "exchange outage" in decision.reason


def test_max_order_notional_refuses_a_large_order():
    decision = risk_check(order(qty="0.3"), state())  # 0.3 × 50000 = 15000 > 10000
    assert (decision.allowed, decision.guard) == (False, "max_order_notional")
    assert "15000.00" in decision.reason and "10000.00" in decision.reason


def test_max_order_notional_allows_exactly_the_limit():
    assert risk_check(order(qty="0.2"), state()).allowed  # 10000


def test_max_position_counts_the_position_and_working_orders():
    s = state(
        positions={("BTCUSDT", "BOTH"): D("0.8")}, working={("BTCUSDT", "BOTH", "BUY"): D("0.1")}
    )
    # 0.8 + 0.1 working + 0.15 = 1.05 × 50000 = 52500 > 50000
    decision = risk_check(order(qty="0.15"), s)
    assert (decision.allowed, decision.guard) == (False, "max_position")
    assert "1.05" in decision.reason and "0.1 in working orders" in decision.reason
    # 0.8 + 0.1 + 0.1 = 1.0 → exactly 50000
    assert risk_check(order(qty="0.1"), s).allowed


def test_max_position_always_allows_reducing_the_position():
    s = state(positions={("BTCUSDT", "BOTH"): D("1.5")}, max_position_notional=D("10000"))
    assert risk_check(order(side="SELL", qty="0.1"), s).allowed
    # ...but not selling through the position into a short that is too big.
    assert not risk_check(order(side="SELL", qty="1.8"), s).allowed


def test_hedge_sides_are_checked_separately():
    s = state(positions={("BTCUSDT", "LONG"): D("0.95"), ("BTCUSDT", "SHORT"): D("-0.2")})
    assert not risk_check(order(qty="0.1", position_side="LONG"), s).allowed
    assert risk_check(order(side="SELL", qty="0.1", position_side="SHORT"), s).allowed


@pytest.mark.parametrize("loss", ["1000", "1500.5"])
def test_daily_loss_limit_stops_new_exposure(loss):
    decision = risk_check(order(), state(loss_today=D(loss)))
    assert (decision.allowed, decision.guard) == (False, "daily_loss")
    assert "only orders that reduce a position are allowed" in decision.reason


def test_daily_loss_limit_still_allows_closing():
    s = state(loss_today=D("1200"), positions={("BTCUSDT", "BOTH"): D("0.15")})
    assert risk_check(order(side="SELL", qty="0.15"), s).allowed
    assert risk_check(order(side="BUY", qty="0.1", reduce_only=True), s).allowed


def test_below_the_daily_limit_trading_goes_on():
    assert risk_check(order(), state(loss_today=D("999.99"))).allowed
