"""Digits the dashboard shows; static/js/format.js applies the same rules to live values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from trading.templatetags.xquant_format import (
    duration,
    iso,
    money,
    percent,
    pnl,
    price,
    qty,
    sign_class,
    ts,
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("65000.1"), "65,000.10"),
        (Decimal("3456.789"), "3,456.79"),
        (Decimal("1.23456789"), "1.2346"),
        (Decimal("0.000123456"), "0.000123"),
        (Decimal("-120.5"), "−120.50"),
        (None, "—"),
    ],
)
def test_prices_get_digits_by_magnitude(value, shown):
    assert price(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0.010000000000"), "0.01"),
        (Decimal("1500.000"), "1,500"),
        (Decimal("-0.3"), "−0.3"),
        (Decimal("0.123456789123"), "0.12345679"),
    ],
)
def test_quantities_are_as_precise_as_stored_without_trailing_zeros(value, shown):
    assert qty(value) == shown


def test_pnl_is_signed_and_coloured_by_sign():
    assert pnl(Decimal("12.3")) == "+12.30"
    assert pnl(Decimal("-5")) == "−5.00"
    assert pnl(Decimal("0.001")) == "0.00"
    assert pnl(Decimal("-0.001")) == "0.00"
    assert money(Decimal("1234567.891")) == "1,234,567.89"
    assert [sign_class(v) for v in (Decimal("1"), Decimal("-1"), Decimal("0"), None)] == [
        "pos",
        "neg",
        "flat",
        "flat",
    ]


def test_times_go_to_the_browser_as_utc_iso():
    berlin = timezone(timedelta(hours=2))
    moment = datetime(2026, 5, 1, 14, 30, 5, 123456, tzinfo=berlin)
    assert iso(moment) == "2026-05-01T12:30:05.123Z"
    html = ts(moment, "time")
    assert html.startswith('<time datetime="2026-05-01T12:30:05.123Z" data-ts="time"')
    assert html.endswith(">12:30:05 UTC</time>")
    assert ts(datetime(2026, 5, 1, tzinfo=UTC), "short").endswith(">05-01 00:00 UTC</time>")
    assert ts(None) == "—"


def test_backtest_metrics_read_as_percentages_and_durations():
    assert percent(0.1234) == "12.34 %"
    assert percent(-0.051) == "−5.10 %"
    assert percent(None) == "—"
    assert duration(93_784) == "1 d 2 h"
    assert duration(3_900) == "1 h 5 min"
    assert duration(59) == "59 s"
