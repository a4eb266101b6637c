"""The research pages: Market (chart with indicators and the desk's orders) and Backtests
(launch, progress, results). The research side owns the candles, indicators and the
backtest service; these views only read them and call its launcher."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from prediction.reports import strategy_catalogue
from prediction.selectors import backtest_run_get, backtest_run_list, known_symbols
from prediction.tasks import backtest_run_launch
from trading.charts import equity_chart, market_chart
from trading.forms import BacktestForm, MarketForm
from trading.views.access import desk_view, refused
from trading.views.live import Fragment, render_live_page
from xquant import roles
from xquant.errors import ApplicationError, NotFoundError

RECENT_RUNS = 25
TRADES_SHOWN = 200


def _market_symbols() -> list[str]:
    return sorted(set(settings.TRADING_SYMBOLS) | set(known_symbols()))


@desk_view()
def market_index(request: HttpRequest) -> HttpResponse:
    symbols = list(settings.TRADING_SYMBOLS) or _market_symbols()
    return redirect("trading:market", symbol=symbols[0])


@desk_view()
def market(request: HttpRequest, symbol: str) -> HttpResponse:
    symbols = _market_symbols()
    if symbol not in symbols:
        raise Http404(f"No market data for {symbol}.")
    query = request.GET.copy()
    wants_data = query.pop("data", None) == ["chart"]
    form = MarketForm(query or None, symbol=symbol)
    params = form.chart_params()
    try:
        chart: dict[str, Any] | None = market_chart(symbol=symbol, **params)
        error = ""
    except ApplicationError as exc:
        chart, error = None, exc.message
    if wants_data:
        if chart is None:
            return JsonResponse({"error": error}, status=400)
        return JsonResponse(chart)
    return render_live_page(
        request,
        "research/market.html",
        {},
        {
            "symbol": symbol,
            "symbols": symbols,
            "form": form,
            "chart": chart,
            "chart_error": error,
            "strategy_id": params["strategy_id"],
        },
    )


def _catalogue() -> list[dict]:
    return strategy_catalogue()


@desk_view()
def backtests(request: HttpRequest) -> HttpResponse:
    catalogue = _catalogue()
    symbols = known_symbols()
    wants_json = "application/json" in request.headers.get("Accept", "")
    if request.method == "POST":
        if not request.user.has_perm(roles.RUN_BACKTEST):
            return refused(request, roles.RUN_BACKTEST)
        form = BacktestForm(request.POST, catalogue=catalogue, symbols=symbols)
        if form.is_valid():
            try:
                # On a Celery worker, or inline when Celery is eager (embedded mode):
                # progress reaches the pages as backtest.progress events either way.
                run = backtest_run_launch(user=request.user, **form.launch_kwargs())
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                url = reverse("trading:backtest", args=[run.pk])
                if wants_json:
                    run.refresh_from_db()
                    return JsonResponse({"id": run.pk, "url": url, "status": run.status})
                messages.success(request, f"Backtest #{run.pk} started.")
                return redirect(url)
        if wants_json:
            errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
            text = " ".join(
                f"{'' if n == '__all__' else n + ': '}{' '.join(e)}" for n, e in errors.items()
            )
            return JsonResponse({"error": text, "fields": errors}, status=400)
    else:
        form = BacktestForm(
            initial={"symbol": "BTCUSDT" if "BTCUSDT" in symbols else symbols[0]},
            catalogue=catalogue,
            symbols=symbols,
        )
    fragments = {
        "runs": Fragment(
            "research/fragments/backtest_runs.html",
            lambda: {"runs": backtest_run_list().select_related("created_by")[:RECENT_RUNS]},
        )
    }
    return render_live_page(
        request, "research/backtests.html", fragments, {"form": form, "catalogue": catalogue}
    )


#: How each metric of prediction.backtest.metrics reads, and its unit.
METRICS = [
    ("total_return", "Total return", "percent"),
    ("cagr", "CAGR", "percent"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("annualisation", "Annualised by", "text"),
    ("max_drawdown", "Max drawdown", "percent"),
    ("max_drawdown_duration_seconds", "Longest drawdown", "duration"),
    ("trade_count", "Trades", "count"),
    ("win_rate", "Win rate", "percent"),
    ("profit_factor", "Profit factor", "ratio"),
    ("expectancy", "Expectancy per trade", "money"),
    ("fees", "Fees", "money"),
    ("exposure", "Time in the market", "percent"),
    ("initial_equity", "Initial equity", "money"),
    ("final_equity", "Final equity", "money"),
]


def metric_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": key, "label": label, "unit": unit, "value": metrics.get(key)}
        for key, label, unit in METRICS
        if key in metrics
    ]


@desk_view()
def backtest_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    try:
        backtest_run_get(run_id=run_id)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc

    def body() -> dict:
        run = backtest_run_get(run_id=run_id)
        trades = run.trades or []
        return {
            "run": run,
            "metrics": metric_rows(run.metrics or {}),
            "equity": equity_chart(run.equity_curve or []) if run.status == "finished" else None,
            "trades": trades[-TRADES_SHOWN:][::-1],
            "trade_total": len(trades),
        }

    fragments = {"run": Fragment("research/fragments/backtest_detail.html", body)}
    return render_live_page(request, "research/backtest_detail.html", fragments, {"run_id": run_id})


COMPARE_MIN, COMPARE_MAX = 2, 5
COMPARE_CHOICES = 50


def _return_curve(run) -> list[dict[str, float]]:
    """A run's equity as its return since its start, in percent: runs with different
    capital overlay on one scale."""
    points = equity_chart(run.equity_curve or [])["equity"]
    if not points or not points[0]["value"]:
        return []
    first = points[0]["value"]
    return [{"time": p["time"], "value": (p["value"] / first - 1) * 100} for p in points]


@desk_view()
def backtest_compare(request: HttpRequest) -> HttpResponse:
    """Two to five finished runs: equity curves overlaid, metrics side by side."""
    from prediction.models import BacktestStatus

    choices = list(backtest_run_list().filter(status=BacktestStatus.FINISHED)[:COMPARE_CHOICES])
    wanted = [int(v) for v in request.GET.getlist("runs") if v.isdigit()]
    error = ""
    runs = []
    if wanted:
        by_id = {run.pk: run for run in backtest_run_list().filter(pk__in=wanted)}
        runs = [by_id[pk] for pk in dict.fromkeys(wanted) if pk in by_id]
        unfinished = [run for run in runs if run.status != BacktestStatus.FINISHED]
        if not COMPARE_MIN <= len(runs) <= COMPARE_MAX:
            error = f"Pick {COMPARE_MIN} to {COMPARE_MAX} runs (got {len(runs)})."
        elif unfinished:
            error = "Only finished runs have results: " + ", ".join(
                f"#{run.pk} is {run.get_status_display().lower()}" for run in unfinished
            )
        if error:
            runs = []
    keys = [key for key, _, _ in METRICS if any(key in (run.metrics or {}) for run in runs)]
    rows = [
        {
            "label": label,
            "key": key,
            "unit": unit,
            "values": [(run.metrics or {}).get(key) for run in runs],
        }
        for key, label, unit in METRICS
        if key in keys
    ]
    curves = [
        {
            "id": run.pk,
            "label": f"#{run.pk} {run.strategy} {run.symbol} {run.timeframe}",
            "points": _return_curve(run),
        }
        for run in runs
    ]
    return render(
        request,
        "research/backtest_compare.html",
        {
            "choices": choices,
            "selected": set(wanted),
            "runs": runs,
            "rows": rows,
            "curves": curves,
            "error": error,
            "limits": (COMPARE_MIN, COMPARE_MAX),
        },
    )
