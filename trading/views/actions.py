"""POST actions behind the dashboard's buttons. Each calls the same service as the API,
the admin and the command line; none of them changes a row itself.

A plain form post gets a redirect back (with a message); a post from static/js/
(header `Accept: application/json`) gets JSON, and the page updates from the event the
service publishes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from trading.forms import KillSwitchForm, StrategyToggleForm
from trading.models import OrderSource, Position
from trading.selectors import order_get, strategy_get
from trading.services.orders import order_cancel
from trading.services.positions import position_close
from trading.services.risk import kill_switch_engage, kill_switch_release
from trading.services.strategies import strategy_config_set_active
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


@login_required
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
        strategy = strategy_config_set_active(strategy=strategy, active=form.cleaned_data["active"])
    except ApplicationError as exc:
        return _failed(request, default, exc.message, exc.http_status)
    state = "on" if strategy.is_active else "off"
    return _done(
        request,
        default,
        f"{strategy.name} is {state}.",
        {"id": strategy.pk, "is_active": strategy.is_active, "status": strategy.status},
    )


@login_required
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

            result = kill_switch_engage(reason=reason, exchange=get_exchange())
            text = f"Kill switch engaged: {result['canceled']} open order(s) cancelled."
            if result["failed"]:
                text += f" {len(result['failed'])} could not be cancelled: see the log."
            payload = {"engaged": True, "canceled": result["canceled"]}
        else:
            kill_switch_release(reason=reason)
            text = "Kill switch released: new orders are allowed again."
            payload = {"engaged": False}
    except ApplicationError as exc:
        return _failed(request, default, exc.message, exc.http_status)
    return _done(request, default, text, payload)


@login_required
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
        )
    except ApplicationError as exc:
        return _failed(request, default, exc.message, exc.http_status)
    return _done(
        request,
        default,
        f"Order #{order.pk} is {order.get_status_display().lower()}.",
        {"id": order.pk, "status": order.status},
    )


@login_required
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
