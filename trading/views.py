"""Server-rendered dashboard pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from trading.models import Fill, Order, Position
from trading.selectors import risk_limits_get, strategy_list


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    context = {
        "strategies": strategy_list(),
        "recent_orders": Order.objects.select_related("strategy")[:20],
        "order_count": Order.objects.count(),
        "fill_count": Fill.objects.count(),
        "positions": Position.objects.exclude(quantity=0),
        "risk": risk_limits_get(),
    }
    return render(request, "trading/overview.html", context)
