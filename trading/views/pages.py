"""The trading pages: Overview, Orders (+ detail), Strategy detail."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from trading.forms import AuditFilterForm, KillSwitchForm, OrderFilterForm
from trading.health import health_report
from trading.selectors import (
    AuditFilters,
    OrderFilters,
    account_view,
    audit_event_list,
    fill_list,
    heartbeat_stale_after,
    order_get,
    order_list,
    order_list_working,
    pnl_today,
    position_list,
    price_board,
    risk_limits_get,
    strategy_get,
    strategy_list,
    strategy_pnl,
    strategy_pnl_by_id,
    trader_heartbeats,
)
from trading.services.positions import position_close_plan
from trading.services.risk import loss_today
from trading.strategy_progress import strategy_progress
from trading.views.access import desk_view
from trading.views.live import FRAGMENT_PARAM, Fragment, render_live_page
from xquant import roles
from xquant.errors import NotFoundError

RECENT = 15
ORDERS_PER_PAGE = 50
STRATEGY_ORDERS = 30


def _strategy_rows() -> list[dict]:
    pnl = strategy_pnl_by_id()
    return [
        {
            "strategy": strategy,
            "progress": strategy_progress(
                kind=strategy.kind, params=strategy.params, state=strategy.state
            ),
            "pnl": pnl.get(strategy.pk),
            "traded": strategy.symbol in settings.TRADING_SYMBOLS,
        }
        for strategy in strategy_list()
    ]


def _pnl_context() -> dict:
    limits = risk_limits_get()
    pnl = pnl_today(exchange_name=settings.EXCHANGE)
    # The bar shows the loss exactly as the daily loss guard counts it.
    loss = max(loss_today(exchange_name=settings.EXCHANGE, limits=limits), 0)
    used = min(100, loss * 100 / limits.daily_loss_limit) if limits.daily_loss_limit else 0
    return {"pnl": pnl, "risk": limits, "loss_today": loss, "loss_used_percent": used}


def _positions_context() -> dict:
    positions = list(position_list(open_only=True, exchange_name=settings.EXCHANGE))
    for position in positions:
        # What its Close button will send, for the confirmation.
        position.close_plan = position_close_plan(position=position)
    return {"positions": positions}


def _health_context() -> dict:
    # The same checks as GET /api/health (database, Redis, exchange, trader, prediction).
    return {
        "report": health_report(),
        "beats": trader_heartbeats(),
        "stale_after": heartbeat_stale_after().total_seconds(),
        "risk": risk_limits_get(),
    }


@desk_view()
def overview(request: HttpRequest) -> HttpResponse:
    fragments = {
        "health": Fragment("trading/fragments/health.html", _health_context),
        "prices": Fragment(
            "trading/fragments/prices.html",
            lambda: {
                "prices": price_board(),
                "stale_after": heartbeat_stale_after().total_seconds(),
            },
        ),
        "account": Fragment(
            "trading/fragments/account.html",
            lambda: {"account": account_view(exchange_name=settings.EXCHANGE)},
        ),
        "pnl": Fragment("trading/fragments/pnl.html", _pnl_context),
        "risk": Fragment(
            "trading/fragments/risk.html",
            lambda: {"risk": risk_limits_get(), "kill_switch_form": KillSwitchForm()},
        ),
        "strategies": Fragment(
            "trading/fragments/strategies.html", lambda: {"strategy_rows": _strategy_rows()}
        ),
        "positions": Fragment("trading/fragments/positions.html", _positions_context),
        "orders": Fragment(
            "trading/fragments/orders_recent.html", lambda: {"orders": order_list()[:RECENT]}
        ),
        "fills": Fragment(
            "trading/fragments/fills_recent.html", lambda: {"fills": fill_list()[:RECENT]}
        ),
    }
    return render_live_page(request, "trading/overview.html", fragments)


@desk_view()
def orders(request: HttpRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else OrderFilters()
    # Page links keep the filters; the fragment parameter is live.js's own.
    query = request.GET.copy()
    for name in ("page", FRAGMENT_PARAM):
        query.pop(name, None)

    def table() -> dict:
        page = Paginator(order_list(filters=filters), ORDERS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        return {"page": page, "orders": page.object_list, "query": query.urlencode()}

    def trade() -> dict:
        working = list(order_list_working(exchange_name=settings.EXCHANGE))
        symbols = sorted({o.symbol for o in working})
        strategies = sorted({(o.strategy_id, o.strategy_name) for o in working if o.strategy_id})
        scopes = [("all", f"All working orders ({len(working)})")]
        scopes += [(f"symbol:{s}", f"{s} ({sum(o.symbol == s for o in working)})") for s in symbols]
        scopes += [
            (f"strategy:{pk}", f"{name} ({sum(o.strategy_id == pk for o in working)})")
            for pk, name in strategies
        ]
        return {
            "working": working,
            "scopes": scopes,
            "symbols": settings.TRADING_SYMBOLS,
        }

    fragments = {
        "table": Fragment("trading/fragments/orders_table.html", table),
        "trade": Fragment("trading/fragments/orders_trade.html", trade),
    }
    return render_live_page(
        request,
        "trading/orders.html",
        fragments,
        {"form": form, "filtered": filters != OrderFilters()},
    )


@desk_view()
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        order_get(order_id=order_id)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc

    def body() -> dict:
        order = order_get(order_id=order_id)
        return {"order": order, "attempts": order.attempts.all(), "fills": order.fills.all()}

    fragments = {"order": Fragment("trading/fragments/order_detail.html", body)}
    return render_live_page(request, "trading/order_detail.html", fragments, {"order_id": order_id})


@desk_view()
def strategy_detail(request: HttpRequest, strategy_id: int) -> HttpResponse:
    try:
        strategy = strategy_get(strategy_id=strategy_id)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc

    def summary() -> dict:
        current = strategy_get(strategy_id=strategy_id)
        return {
            "strategy": current,
            "progress": strategy_progress(
                kind=current.kind, params=current.params, state=current.state
            ),
            "traded": current.symbol in settings.TRADING_SYMBOLS,
            "traded_symbols": settings.TRADING_SYMBOLS,
        }

    def books() -> dict:
        return {"pnl": strategy_pnl(strategy=strategy)}

    fragments = {
        "summary": Fragment("trading/fragments/strategy_summary.html", summary),
        "positions": Fragment("trading/fragments/strategy_positions.html", books),
        "orders": Fragment(
            "trading/fragments/strategy_orders.html",
            lambda: {
                "orders": order_list(filters=OrderFilters(strategy_id=strategy_id))[
                    :STRATEGY_ORDERS
                ],
                "strategy": strategy,
            },
        ),
        "fills": Fragment(
            "trading/fragments/strategy_fills.html",
            lambda: {"fills": fill_list(strategy_id=strategy_id)[:STRATEGY_ORDERS]},
        ),
    }
    return render_live_page(
        request, "trading/strategy_detail.html", fragments, {"strategy": strategy}
    )


AUDIT_PER_PAGE = 50


@desk_view(roles.VIEW_AUDIT)
def audit(request: HttpRequest) -> HttpResponse:
    """The audit trail, filterable; read-only like its admin."""
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else AuditFilters()
    query = request.GET.copy()
    query.pop("page", None)
    page = Paginator(
        audit_event_list(filters=filters).select_related("actor"), AUDIT_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "trading/audit.html",
        {
            "form": form,
            "filtered": filters != AuditFilters(),
            "page": page,
            "events": page.object_list,
            "query": query.urlencode(),
        },
    )
