"""The Performance page: how the desk is doing over a selectable range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from trading import performance
from trading.api.views.performance import performance_body
from trading.selectors import pnl_today
from trading.views.access import desk_view
from trading.views.live import Fragment, render_live_page

TRADES_SHOWN = 100


def period_starts(now: datetime) -> dict[str, datetime]:
    """Start of the UTC day, week (Monday) and month that contain `now`."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "today": day,
        "this_week": day - timedelta(days=day.weekday()),
        "this_month": day.replace(day=1),
    }


@desk_view()
def performance_page(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("range", "7d")
    if name not in performance.RANGES:
        name = "7d"

    def body() -> dict:
        now = timezone.now()
        since = performance.range_start(name, now)
        exchange = settings.EXCHANGE
        data = performance_body(exchange_name=exchange, range_name=name, since=since)
        trades = performance.closed_trades(exchange_name=exchange, since=since)
        chart = [
            {"time": int(p["time"].timestamp()), "value": float(p["value"])}
            for p in data["cumulative"]
        ]
        return {
            **data,
            "summary": {
                label: performance.pnl_total(exchange_name=exchange, since=start)["realized"]
                for label, start in period_starts(now).items()
            },
            "unrealized": pnl_today(exchange_name=exchange).unrealized,
            "trades": trades[:TRADES_SHOWN],
            "trade_total": len(trades),
            "chart": chart,
        }

    fragments = {"body": Fragment("trading/fragments/performance.html", body)}
    return render_live_page(
        request,
        "trading/performance.html",
        fragments,
        {"range": name, "ranges": list(performance.RANGES)},
    )
