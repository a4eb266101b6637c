"""Operator screens: strategy configs and risk limits are editable; the trading record
(orders, fills, positions) is read-only, because only the order manager writes it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from trading.models import (
    AccountBalance,
    AuditEvent,
    Fill,
    FuturesSettings,
    Order,
    OrderAttempt,
    OrderSide,
    OrderSource,
    OrderType,
    Position,
    PositionSide,
    ReconcileIssue,
    RiskLimits,
    StrategyConfig,
    StrategyPosition,
    TraderHeartbeat,
)
from trading.selectors import risk_limits_get
from trading.services.audit import Actor, actor_from_request, audit_record
from trading.services.strategies import (
    strategy_audit_values,
    strategy_config_delete,
    strategy_config_set_active,
    strategy_config_set_active_many,
    symbol_require_traded,
)
from trading.strategies.params import normalize_params
from xquant import roles
from xquant.admin_decimals import PlainDecimalsMixin, PlainDecimalsReadOnlyMixin
from xquant.errors import ValidationError


def _admin_actor(request: HttpRequest) -> Actor:
    return actor_from_request(request, channel="admin")


class StrategyConfigForm(forms.ModelForm):
    params = forms.JSONField(
        initial=dict,
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 60, "class": "vLargeTextField"}),
        help_text='A JSON object, e.g. {"side": "BUY", "total_quantity": "0.5", "slices": 10, '
        '"interval_seconds": 60} for TWAP.',
    )

    class Meta:
        model = StrategyConfig
        fields = ["name", "kind", "symbol", "params", "is_active"]

    def clean_symbol(self) -> str:
        return self.cleaned_data["symbol"].strip().upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind and "params" in cleaned:
            try:
                cleaned["params"] = normalize_params(kind, cleaned["params"] or {})
            except ValidationError as exc:
                for field, problems in exc.extra.get("fields", {}).items():
                    label = "" if field == "non_field_errors" else f"{field}: "
                    for problem in problems:
                        self.add_error("params", f"{label}{problem}")
        symbol = cleaned.get("symbol")
        if symbol and cleaned.get("is_active"):
            try:
                symbol_require_traded(symbol=symbol)
            except ValidationError as exc:
                self.add_error("symbol", exc.message)
        return cleaned


@admin.register(StrategyConfig)
class StrategyConfigAdmin(admin.ModelAdmin):
    form = StrategyConfigForm
    list_display = ["name", "kind", "symbol", "status", "is_active", "toggle", "updated_at"]
    list_filter = ["kind", "symbol", "is_active", "status"]
    search_fields = ["name", "symbol"]
    actions = ["activate", "deactivate"]
    readonly_fields = [
        "status",
        "last_error",
        "state_pretty",
        "state_updated_at",
        "created_at",
        "updated_at",
    ]

    def save_model(self, request, obj, form, change) -> None:
        before = (
            strategy_audit_values(StrategyConfig.objects.get(pk=obj.pk))
            if change and obj.pk
            else {}
        )
        super().save_model(request, obj, form, change)
        audit_record(
            actor=_admin_actor(request),
            action="strategy.update" if change else "strategy.create",
            target=f"strategy {obj.pk}",
            before=before,
            after=strategy_audit_values(obj),
        )

    def delete_model(self, request, obj) -> None:
        strategy_config_delete(strategy=obj, actor=_admin_actor(request))

    def delete_queryset(self, request, queryset) -> None:
        for strategy in queryset:
            strategy_config_delete(strategy=strategy, actor=_admin_actor(request))

    def get_list_display(self, request):
        # The on/off buttons only for those who may press them.
        fields = super().get_list_display(request)
        return (
            fields if self.has_change_permission(request) else [f for f in fields if f != "toggle"]
        )

    def get_readonly_fields(self, request, obj=None):
        # The kind decides what the state means; changing it would orphan the state.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "kind"] if obj is not None else fields

    def get_fields(self, request, obj=None):
        fields = ["name", "kind", "symbol", "params", "is_active"]
        return fields if obj is None else fields + self.readonly_fields

    @admin.display(description="State")
    def state_pretty(self, obj: StrategyConfig) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.state, indent=2, sort_keys=True))

    @admin.display(description="On/off")
    def toggle(self, obj: StrategyConfig) -> str:
        # A submit button of the changelist form (which carries the CSRF token),
        # redirected to the toggle view: no nested forms, no JavaScript.
        url = reverse("admin:trading_strategyconfig_toggle", args=[obj.pk])
        label = "Turn off" if obj.is_active else "Turn on"
        return format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post">{}</button>',
            url,
            label,
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/toggle/",
                self.admin_site.admin_view(self.toggle_view),
                name="trading_strategyconfig_toggle",
            ),
            *super().get_urls(),
        ]

    def toggle_view(self, request: HttpRequest, pk: int):
        if not self.has_change_permission(request):
            raise PermissionDenied("Your role may not change strategies.")
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:trading_strategyconfig_changelist"))
        strategy = get_object_or_404(StrategyConfig, pk=pk)
        try:
            strategy = strategy_config_set_active(
                strategy=strategy, active=not strategy.is_active, actor=_admin_actor(request)
            )
        except ValidationError as exc:
            messages.error(request, f"{strategy.name}: {exc.message}")
            return HttpResponseRedirect(reverse("admin:trading_strategyconfig_changelist"))
        state = "on" if strategy.is_active else "off"
        messages.success(request, f"Strategy {strategy.name} is now {state}.")
        return HttpResponseRedirect(reverse("admin:trading_strategyconfig_changelist"))

    @admin.action(description="Turn selected strategies on", permissions=["change"])
    def activate(self, request: HttpRequest, queryset) -> None:
        changed, refused = strategy_config_set_active_many(
            strategies=list(queryset), active=True, actor=_admin_actor(request)
        )
        messages.success(request, f"{changed} strateg{'y' if changed == 1 else 'ies'} turned on.")
        for strategy, reason in refused:
            messages.error(request, f"{strategy.name} stays off: {reason}")

    @admin.action(description="Turn selected strategies off", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset) -> None:
        changed, _ = strategy_config_set_active_many(
            strategies=list(queryset), active=False, actor=_admin_actor(request)
        )
        messages.success(request, f"{changed} strateg{'y' if changed == 1 else 'ies'} turned off.")


class ReadOnlyAdmin(PlainDecimalsReadOnlyMixin, admin.ModelAdmin):
    """The order manager owns these rows; the admin only shows them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrderAttemptInline(admin.TabularInline):
    model = OrderAttempt
    extra = 0
    can_delete = False
    fields = [
        "number",
        "action",
        "outcome",
        "error_code",
        "error_message",
        "retry_after",
        "started_at",
        "duration_ms",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class PlaceOrderForm(forms.Form):
    symbol = forms.CharField(max_length=20, help_text="Exchange symbol, e.g. BTCUSDT.")
    side = forms.ChoiceField(choices=OrderSide.choices)
    order_type = forms.ChoiceField(choices=OrderType.choices, initial=OrderType.LIMIT)
    quantity = forms.DecimalField(
        max_digits=30, decimal_places=12, min_value=Decimal("0.000000000001")
    )
    price = forms.DecimalField(
        max_digits=30,
        decimal_places=12,
        min_value=Decimal("0.000000000001"),
        required=False,
        help_text="Required for LIMIT orders.",
    )
    position_side = forms.ChoiceField(choices=PositionSide.choices, initial=PositionSide.BOTH)
    reduce_only = forms.BooleanField(required=False)

    def clean_symbol(self) -> str:
        return self.cleaned_data["symbol"].strip().upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("order_type") == OrderType.LIMIT and not cleaned.get("price"):
            self.add_error("price", "A LIMIT order needs a price.")
        return cleaned


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "client_order_id",
        "created_at",
        "symbol",
        "side",
        "order_type",
        "quantity",
        "price",
        "status",
        "filled_quantity",
        "average_price",
        "strategy",
        "placed_by_name",
        "error_code",
    ]
    list_filter = ["status", "symbol", "side", "order_type", "source", "exchange", "strategy"]
    search_fields = ["client_order_id", "exchange_order_id", "symbol", "error_message"]
    date_hierarchy = "created_at"
    list_select_related = ["strategy"]
    inlines = [OrderAttemptInline]
    change_list_template = "admin/trading/order/change_list.html"

    def get_urls(self):
        return [
            path("place/", self.admin_site.admin_view(self.place_view), name="trading_order_place"),
            *super().get_urls(),
        ]

    def place_view(self, request: HttpRequest):
        """A manual order, through the same filters, risk guards and order manager."""
        from exchanges.errors import ExchangeError
        from exchanges.registry import get_exchange
        from trading.services.orders import order_place
        from trading.strategies.base import OrderIntent

        if not request.user.has_perm(roles.PLACE_ORDER):
            raise PermissionDenied("Your role may not place orders.")
        form = PlaceOrderForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            intent = OrderIntent(
                key="",
                symbol=data["symbol"],
                side=data["side"],
                quantity=data["quantity"],
                order_type=data["order_type"],
                price=data["price"] if data["order_type"] == OrderType.LIMIT else None,
                position_side=data["position_side"],
                reduce_only=data["reduce_only"],
                reason=f"manual (admin: {request.user.get_username()})",
            )
            try:
                order = order_place(
                    intent=intent,
                    exchange=get_exchange(),
                    source=OrderSource.ADMIN,
                    actor=_admin_actor(request),
                )
            except (ValidationError, ExchangeError) as exc:
                form.add_error(None, str(exc))
            else:
                level = messages.ERROR if order.status == "rejected" else messages.SUCCESS
                detail = f": {order.error_message}" if order.error_message else ""
                messages.add_message(
                    request, level, f"Order {order.client_order_id} is {order.status}{detail}"
                )
                return HttpResponseRedirect(reverse("admin:trading_order_change", args=[order.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Place an order",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/trading/order/place.html", context)


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = [
        "trade_id",
        "executed_at",
        "symbol",
        "side",
        "position_side",
        "quantity",
        "price",
        "fee",
        "realized_pnl",
        "is_maker",
        "strategy",
        "order",
    ]
    list_filter = ["symbol", "side", "position_side", "is_maker", "exchange", "strategy"]
    search_fields = ["trade_id", "order__client_order_id", "symbol"]
    date_hierarchy = "executed_at"
    list_select_related = ["strategy", "order"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = [
        "symbol",
        "position_side",
        "quantity",
        "entry_price",
        "mark_price",
        "unrealized_pnl",
        "realized_pnl",
        "fees_paid",
        "exchange",
        "updated_at",
    ]
    list_filter = ["exchange", "symbol", "position_side"]
    search_fields = ["symbol"]


@admin.register(StrategyPosition)
class StrategyPositionAdmin(ReadOnlyAdmin):
    list_display = [
        "strategy",
        "symbol",
        "position_side",
        "quantity",
        "entry_price",
        "mark_price",
        "unrealized_pnl",
        "realized_pnl",
        "fees_paid",
        "updated_at",
    ]
    list_filter = ["strategy", "symbol", "position_side"]
    list_select_related = ["strategy"]


@admin.register(TraderHeartbeat)
class TraderHeartbeatAdmin(ReadOnlyAdmin):
    list_display = [
        "symbol",
        "last_tick_at",
        "last_tick_ms",
        "last_mid",
        "tick_count",
        "runner",
        "last_error_at",
    ]


@admin.register(ReconcileIssue)
class ReconcileIssueAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "subject", "message", "occurrences", "first_seen_at", "resolved_at"]
    list_filter = ["exchange", "symbol", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["subject", "message"]


@admin.register(AccountBalance)
class AccountBalanceAdmin(ReadOnlyAdmin):
    list_display = [
        "exchange",
        "asset",
        "wallet_balance",
        "equity",
        "used_margin",
        "available",
        "fetched_at",
    ]


@admin.register(FuturesSettings)
class FuturesSettingsAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "exchange", "leverage", "margin_mode", "hedge_mode", "applied_at"]


class KillSwitchForm(forms.Form):
    reason = forms.CharField(
        max_length=200, help_text="Kept on the risk record and shown on the dashboard."
    )


class RiskLimitsForm(forms.ModelForm):
    """The same bounds as the API: positive and within the hard caps (RISK_HARD_MAX_*)."""

    class Meta:
        model = RiskLimits
        fields = [
            "max_order_notional",
            "max_position_notional",
            "daily_loss_limit",
            "day_reset_hour_utc",
        ]

    def clean(self) -> dict[str, Any]:
        from trading.services.risk import HARD_CAPS, risk_limit_problem

        cleaned = super().clean()
        for name in HARD_CAPS:
            if cleaned.get(name) is not None:
                problem = risk_limit_problem(name, cleaned[name])
                if problem:
                    self.add_error(name, problem)
        return cleaned


@admin.register(RiskLimits)
class RiskLimitsAdmin(PlainDecimalsMixin, admin.ModelAdmin):
    form = RiskLimitsForm
    list_display = [
        "__str__",
        "max_order_notional",
        "max_position_notional",
        "daily_loss_limit",
        "day_reset_hour_utc",
        "kill_switch",
    ]
    readonly_fields = [
        "kill_switch",
        "kill_switch_reason",
        "kill_switch_changed_at",
        "updated_at",
    ]

    @admin.display(description="Kill switch", ordering="kill_switch_engaged")
    def kill_switch(self, obj: RiskLimits) -> str:
        # Not Django's boolean icon: an engaged switch is an alarm, not a green tick.
        if obj.kill_switch_engaged:
            return format_html('<strong style="color:#ba2121">{}</strong>', "ENGAGED")
        return "off"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    change_form_template = "admin/trading/risklimits/change_form.html"

    def changelist_view(self, request, extra_context=None):
        # A single row: go straight to it, creating it from the settings defaults.
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied("Your role may not see the risk limits.")
        limits = risk_limits_get()
        return HttpResponseRedirect(reverse("admin:trading_risklimits_change", args=[limits.pk]))

    def save_model(self, request, obj, form, change) -> None:
        # Through the service, so the change is validated, logged and published.
        from trading.services.risk import risk_limits_update

        risk_limits_update(
            **{name: form.cleaned_data[name] for name in form.changed_data},
            actor=_admin_actor(request),
        )

    def get_urls(self):
        return [
            path(
                "kill-switch/",
                self.admin_site.admin_view(self.kill_switch_view),
                name="trading_risklimits_kill_switch",
            ),
            *super().get_urls(),
        ]

    def kill_switch_view(self, request: HttpRequest):
        """Engage (with a reason, cancelling open orders) or release the kill switch."""
        from exchanges.registry import get_exchange
        from trading.services.risk import kill_switch_engage, kill_switch_release

        limits = risk_limits_get()
        change_url = reverse("admin:trading_risklimits_change", args=[limits.pk])
        if not request.user.has_perm(roles.OPERATE_KILL_SWITCH):
            raise PermissionDenied("Your role may not operate the kill switch.")
        form = KillSwitchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            reason = f"{form.cleaned_data['reason']} (admin: {request.user.get_username()})"
            if limits.kill_switch_engaged:
                kill_switch_release(reason=reason, actor=_admin_actor(request))
                messages.success(request, "Kill switch released: orders are allowed again.")
            else:
                result = kill_switch_engage(
                    reason=reason, exchange=get_exchange(), actor=_admin_actor(request)
                )
                messages.warning(
                    request, f"Kill switch engaged; {result['canceled']} open orders cancelled."
                )
                for failure in result["failed"]:
                    messages.error(request, f"Could not cancel: {failure}")
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Release the kill switch"
            if limits.kill_switch_engaged
            else "Engage the kill switch",
            "form": form,
            "limits": limits,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/trading/risklimits/kill_switch.html", context)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail, read-only for everyone (the database refuses changes too)."""

    list_display = ["at", "actor_name", "channel", "ip", "action", "target", "credential"]
    list_filter = ["action", "channel", "actor_name"]
    search_fields = ["actor_name", "target", "action", "ip"]
    date_hierarchy = "at"
    readonly_fields = [
        "at",
        "actor",
        "actor_name",
        "channel",
        "ip",
        "credential",
        "action",
        "target",
        "before_pretty",
        "after_pretty",
    ]
    fields = readonly_fields

    @admin.display(description="Before")
    def before_pretty(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.before, indent=2, sort_keys=True))

    @admin.display(description="After")
    def after_pretty(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.after, indent=2, sort_keys=True))


# --- people and roles: Django's own screens, every change in the audit trail ---------

from django.contrib.auth.admin import GroupAdmin, UserAdmin  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402


def _user_audited(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(
            f"{p.content_type.app_label}.{p.codename}"
            for p in user.user_permissions.select_related("content_type")
        ),
    }


def _group_audited(group: Group) -> dict[str, Any]:
    return {
        "name": group.name,
        "permissions": sorted(
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        ),
    }


class AuditedAdminMixin:
    """Records before and after of every save (with its many-to-many: roles,
    permissions) and every delete."""

    audit_name = ""
    audit_values = staticmethod(lambda obj: {})

    def _before(self, request, obj) -> None:
        request._audit_before = (
            self.audit_values(type(obj).objects.get(pk=obj.pk)) if obj.pk else {}
        )

    def save_model(self, request, obj, form, change) -> None:
        self._before(request, obj)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        audit_record(
            actor=_admin_actor(request),
            action=f"{self.audit_name}.{'update' if change else 'create'}",
            target=f"{self.audit_name} {obj.pk}",
            before=getattr(request, "_audit_before", {}),
            after=self.audit_values(obj),
        )

    def delete_model(self, request, obj) -> None:
        before, pk = self.audit_values(obj), obj.pk
        super().delete_model(request, obj)
        audit_record(
            actor=_admin_actor(request),
            action=f"{self.audit_name}.delete",
            target=f"{self.audit_name} {pk}",
            before=before,
        )

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    audit_name = "user"
    audit_values = staticmethod(_user_audited)

    def user_change_password(self, request, id, form_url=""):
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:  # the form was valid
            audit_record(
                actor=_admin_actor(request),
                action="user.password",
                target=f"user {id}",
                after={"password": "changed"},  # never the password or its hash
            )
        return response


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdminMixin, GroupAdmin):
    audit_name = "role"
    audit_values = staticmethod(_group_audited)
