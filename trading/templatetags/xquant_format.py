"""Number and time formatting for the dashboard, the same rules as static/js/format.js.

Numbers are rendered right-aligned with tabular figures by the templates; these filters
decide the digits: prices by magnitude, quantities as precise as stored, money in cents.
Times are rendered as <time datetime="…Z"> in UTC; the browser rewrites the text in the
user's own timezone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.conf import settings
from django.utils.html import format_html

register = template.Library()

DASH = "—"
MINUS = "−"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def price_decimals(value: Decimal) -> int:
    magnitude = abs(value)
    if magnitude >= 100:
        return 2
    if magnitude >= 1:
        return 4
    return 6


def _grouped(value: Decimal, decimals: int) -> str:
    text = f"{abs(value):,.{decimals}f}"
    return (MINUS + text) if value < 0 and text.strip("0.,") else text


@register.filter
def price(value: Any) -> str:
    """65000.1 -> 65,000.10; 1.2345678 -> 1.2346; 0.00012345 -> 0.000123."""
    number = _decimal(value)
    return DASH if number is None else _grouped(number, price_decimals(number))


@register.filter
def qty(value: Any) -> str:
    """As precise as stored, without trailing zeros: 0.010000000000 -> 0.01; at most 8."""
    number = _decimal(value)
    if number is None:
        return DASH
    rounded = round(number, 8).normalize()
    decimals = max(0, -rounded.as_tuple().exponent)
    return _grouped(number, decimals)


@register.filter
def money(value: Any) -> str:
    number = _decimal(value)
    return DASH if number is None else _grouped(number, 2)


@register.filter
def pnl(value: Any) -> str:
    """Signed money: +12.30, −5.00, 0.00."""
    number = _decimal(value)
    if number is None:
        return DASH
    text = _grouped(number, 2)
    return ("+" + text) if number > 0 and text.strip("0.,") else text


@register.filter
def sign_class(value: Any) -> str:
    """CSS class of a signed amount: pos, neg or flat."""
    number = _decimal(value)
    if number is None or number == 0:
        return "flat"
    return "pos" if number > 0 else "neg"


@register.filter
def iso(value: datetime | None) -> str:
    """UTC ISO 8601 with milliseconds and a Z, as the browser's Date parses it."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@register.simple_tag
def ts(value: datetime | None, style: str = "datetime") -> str:
    """<time> for the browser to show in the user's timezone (style: datetime, time,
    date, short or relative); the text inside is the UTC fallback without JavaScript."""
    if value is None:
        return DASH
    utc = value.astimezone(UTC)
    fallback = utc.strftime("%H:%M:%S" if style == "time" else "%Y-%m-%d %H:%M:%S") + " UTC"
    if style == "short":
        fallback = utc.strftime("%m-%d %H:%M UTC")
    return format_html(
        '<time datetime="{}" data-ts="{}" title="{}">{}</time>',
        iso(value),
        style,
        utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
        fallback,
    )


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.filter
def param_value(value: Any) -> str:
    """A strategy parameter as a trader reads it: lists joined, booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if value is None:
        return DASH
    return str(value)


@register.simple_tag
def kill_switch_state():
    """The risk limits row, for the banner every page shows while the switch is engaged
    (static/js/dashboard.js keeps it current from the live events)."""
    from trading.selectors import risk_limits_get

    return risk_limits_get()


@register.simple_tag
def development_setup() -> bool:
    """Whether pages may give development hints (how `make run` makes the first user):
    DEBUG, never in production."""
    return bool(settings.DEBUG)


@register.filter
def param_label(name: str) -> str:
    """total_quantity -> Total quantity."""
    return str(name).replace("_", " ").capitalize()


@register.filter
def percent(value: Any) -> str:
    """A fraction as a percentage: 0.1234 -> 12.34 %, -0.051 -> −5.10 %."""
    number = _decimal(value)
    if number is None:
        return DASH
    return f"{_grouped(number * 100, 2)} %"


@register.filter
def duration(value: Any) -> str:
    """Seconds in the two largest units: 93784 -> 1 d 2 h, 3900 -> 1 h 5 min."""
    number = _decimal(value)
    if number is None:
        return DASH
    seconds = int(number)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"
