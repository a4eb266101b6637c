"""The Activity page: what happened and why, newest first, filterable, live."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse

from trading.activity import KINDS, activity_feed
from trading.models import StrategyConfig
from trading.selectors import order_symbols
from trading.views.access import desk_view
from trading.views.live import FRAGMENT_PARAM, Fragment, render_live_page


class ActivityFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "Everything"), *KINDS])
    symbol = forms.ChoiceField(required=False)
    strategy = forms.ModelChoiceField(
        required=False, queryset=StrategyConfig.objects.order_by("name"), empty_label="Any strategy"
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["symbol"].choices = [("", "Any symbol")] + [(s, s) for s in order_symbols()]


@desk_view()
def activity_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.copy()
    query.pop(FRAGMENT_PARAM, None)
    form = ActivityFilterForm(query or None)
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        strategy = data.get("strategy")
        filters = {
            "kind": data.get("kind") or None,
            "symbol": data.get("symbol") or None,
            "strategy_id": strategy.pk if strategy else None,
        }

    def feed() -> dict:
        return {"items": activity_feed(**filters)}

    fragments = {"feed": Fragment("trading/fragments/activity_feed.html", feed)}
    return render_live_page(
        request, "trading/activity.html", fragments, {"form": form, "filtered": bool(filters)}
    )
