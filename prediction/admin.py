"""Read-only research records: candles come from fetches and the sample, backtest runs
from the backtest service."""

from __future__ import annotations

from django.contrib import admin

from prediction.models import BacktestRun, Candle


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Candle)
class CandleAdmin(ReadOnlyAdmin):
    list_display = (
        "symbol",
        "timeframe",
        "open_time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "source",
    )
    list_filter = ("symbol", "timeframe", "source")
    date_hierarchy = "open_time"
    show_full_result_count = False


@admin.register(BacktestRun)
class BacktestRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "strategy",
        "engine",
        "symbol",
        "timeframe",
        "status",
        "progress",
        "bar_count",
        "created_at",
    )
    list_filter = ("status", "engine", "strategy", "symbol")
    exclude = ("equity_curve", "trades")
