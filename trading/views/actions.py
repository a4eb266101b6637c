"""POST actions behind the dashboard's buttons. Each calls the same service as the API,
the admin and the command line; none of them changes a row itself.

A plain form post gets a redirect back (with a message); a post from static/js/
(header `Accept: application/json`) gets JSON, and the page updates from the event the
service publishes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from trading.forms import (
    CancelOpenOrdersForm,
    KillSwitchForm,
    PlaceOrderForm,
    StrategyToggleForm,
)
from trading.models import OrderSource, Position
from trading.selectors import order_get, strategy_get
from trading.services.audit import actor_from_request
from trading.services.orders import order_cancel, order_place, orders_cancel_all
from trading.services.positions import position_close
from trading.services.risk import kill_switch_engage, kill_switch_release
from trading.services.strategies import strategy_config_set_active
from trading.views.access import desk_view
from xquant import roles
from xquant.errors import ApplicationError, NotFoundError


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return redirect(target)


def _done(request: HttpRequest, default: str, text: str, payload: dict[str, Any]) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"message": text, **payload})
    messages.success(request, text)
    return _back(request, default)


def _failed(request: HttpRequest, default: str, text: str, status: int) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": text}, status=status)
    messages.error(request, text)
    return _back(request, default)


def _form_errors(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@desk_view(roles.CHANGE_STRATEGY)
@require_POST
def strategy_toggle(request: HttpRequest, strategy_id: int) -> HttpResponse:
    default = reverse("trading:strategy", args=[strategy_id])
    try:
        strategy = strategy_get(strategy_id=strategy_id)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    form = StrategyToggleForm(request.POST)
    if not form.is_valid():
        return _failed(request, default, _form_errors(form), 400)
    try:
        strategy = strategy_config_set_active(
            strategy=strategy,
            active=form.cleaned_data["active"],
            actor=actor_from_request(request),
        )
    except ApplicationError as exc:
        return _failed(request, default, exc.message, exc.http_status)
    state = "on" if strategy.is_active else "off"
    return _done(
        request,
        default,
        f"{strategy.name} is {state}.",
        {"id": strategy.pk, "is_active": strategy.is_active, "status": strategy.status},
    )


@desk_view(roles.OPERATE_KILL_SWITCH)
@require_POST
def kill_switch(request: HttpRequest) -> HttpResponse:
    default = reverse("trading:overview")
    form = KillSwitchForm(request.POST)
    if not form.is_valid():
        return _failed(request, default, _form_errors(form), 400)
    reason = f"{form.cleaned_data['reason']} ({request.user.get_username()})"
    try:
        if form.cleaned_data["action"] == "engage":
            from exchanges.registry import get_exchange

            result = kill_switch_engage(
                reason=reason, exchange=get_exchange(), actor=actor_from_request(request)
            )
            text = f"Kill switch engaged: {result['canceled']} open order(s) cancelled."
            if result["failed"]:
                text += f" {len(result['failed'])} could not be cancelled: see the log."
            payload = {"engaged": True, "canceled": result["canceled"]}
        else:
            kill_switch_release(reason=reason, actor=actor_from_request(request))
            text = "Kill switch released: new orders are allowed again."
            payload = {"engaged": False}
    except ApplicationError as exc:
        return _failed(request, default, exc.message, exc.http_status)
    return _done(request, default, text, payload)


@desk_view(roles.CANCEL_ORDER)
@require_POST
def order_cancel_view(request: HttpRequest, order_id: int) -> HttpResponse:
    default = reverse("trading:order", args=[order_id])
    try:
        order = order_get(order_id=order_id)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    from exchanges.registry import get_exchange

    try:
        order = order_cancel(
            order=order,
            exchange=get_exchange(),
            reason=f"cancelled from the dashboard by {request.user.get_username()}",
            actor=actor_from_request(request),
        )
    except ApplicationError as exc:
        return _failed(request, default, exc.message, exc.http_status)
    return _done(
        request,
        default,
        f"Order #{order.pk} is {order.get_status_display().lower()}.",
        {"id": order.pk, "status": order.status},
    )


@desk_view(roles.PLACE_ORDER)
@require_POST
def position_close_view(request: HttpRequest, position_id: int) -> HttpResponse:
    default = reverse("trading:overview")
    position = Position.objects.filter(pk=position_id).first()
    if position is None:
        raise Http404(f"No position with id {position_id}.")
    from exchanges.registry import get_exchange

    try:
        orders = position_close(
            position=position,
            exchange=get_exchange(position.exchange),
            by=request.user.get_username(),
            source=OrderSource.API,
            actor=actor_from_request(request),
        )
    except ApplicationError as exc:
        return _failed(request, default, exc.message, exc.http_status)
    outcomes = ", ".join(
        f"#{o.pk} {o.side} {o.quantity.normalize():f} {o.get_status_display().lower()}"
        for o in orders
    )
    return _done(
        request,
        default,
        f"Closing {position.symbol}: {outcomes}.",
        {"orders": [{"id": o.pk, "status": o.status} for o in orders]},
    )


@desk_view(roles.PLACE_ORDER)
@require_POST
def order_place_view(request: HttpRequest) -> HttpResponse:
    """Place order: a first post answers with what would be sent (quantity and price on
    the exchange's grid, its value at the mid); the confirmed one places it, through the
    same filters, risk guards and order manager as every order."""
    from django.conf import settings

    from exchanges.errors import OrderRejectedError
    from exchanges.registry import get_exchange
    from trading.strategies.base import OrderIntent

    default = reverse("trading:orders")
    form = PlaceOrderForm(request.POST, symbols=list(settings.TRADING_SYMBOLS))
    if not form.is_valid():
        return _failed(request, default, _form_errors(form), 400)
    data = form.cleaned_data
    exchange = get_exchange()
    intent = OrderIntent(
        key="",
        symbol=data["symbol"],
        side=data["side"],
        quantity=data["quantity"],
        order_type=data["order_type"],
        price=data["price"],
        reduce_only=data["reduce_only"],
        reason=f"manual (dashboard: {request.user.get_username()})",
    )
    try:
        if not data["confirm"]:
            return JsonResponse({"preview": _order_preview(intent, exchange)})
        order = order_place(
            intent=intent,
            exchange=exchange,
            source=OrderSource.API,
            actor=actor_from_request(request),
        )
    except OrderRejectedError as exc:
        return _failed(request, default, f"Would be refused: {exc.message}", 400)
    except ApplicationError as exc:
        return _failed(request, default, exc.message, exc.http_status)
    text = f"Order #{order.pk} {order.side} {order.quantity.normalize():f} {order.symbol}: "
    text += order.get_status_display().lower()
    if order.error_message:
        text += f" ({order.error_message})"
    return _done(request, default, text, {"id": order.pk, "status": order.status})


def _order_preview(intent, exchange) -> str:
    """What a Place order confirmation shows; raises OrderRejectedError when the
    exchange's filters would refuse it."""
    from exchanges.base import OrderRequest
    from trading.templatetags.xquant_format import money, price

    mid = exchange.market_snapshot(intent.symbol).mid
    request = OrderRequest(
        symbol=intent.symbol,
        side=intent.side,
        order_type=intent.order_type,
        quantity=intent.quantity,
        price=intent.price,
        client_order_id="preview",
        reduce_only=intent.reduce_only,
    )
    request = exchange.symbol_rules(intent.symbol).normalize(request, mid)
    at = price(request.price) if request.price is not None else "market"
    value = (request.price or mid) * request.quantity
    reduce = ", reduce-only" if intent.reduce_only else ""
    return (
        f"{request.side} {request.quantity.normalize():f} {request.symbol} at {at}{reduce}: "
        f"about {money(value)} USDT at the mid {price(mid)}. The risk guards check it when "
        "it is sent."
    )


@desk_view(roles.CANCEL_ORDER)
@require_POST
def orders_cancel_open_view(request: HttpRequest) -> HttpResponse:
    from exchanges.registry import get_exchange

    default = reverse("trading:orders")
    form = CancelOpenOrdersForm(request.POST)
    if not form.is_valid():
        return _failed(request, default, _form_errors(form), 400)
    scope = form.cleaned_data["scope"]
    result = orders_cancel_all(
        exchange=get_exchange(),
        reason=f"cancelled from the dashboard by {request.user.get_username()}",
        actor=actor_from_request(request),
        **scope,
    )
    text = f"{result['canceled']} open order(s) cancelled."
    if result["failed"]:
        text += f" {len(result['failed'])} could not be: see the log."
    return _done(request, default, text, result)
