"""Read-only research records: studies and walk-forward analyses are written by their
services (the dashboard, the API, the commands)."""

from __future__ import annotations

from django.contrib import admin

from prediction.admin import ReadOnlyAdmin
from prediction.research.models import Study, WalkForward


class ResearchRecordAdmin(ReadOnlyAdmin):
    # A study's trials live in optuna's tables: deleting the row would orphan them.
    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Study)
class StudyAdmin(ResearchRecordAdmin):
    list_display = (
        "id",
        "strategy",
        "symbol",
        "timeframe",
        "sampler",
        "objective",
        "status",
        "trials_done",
        "n_trials",
        "created_at",
    )
    list_filter = ("status", "strategy", "sampler", "objective", "symbol")
    exclude = ("results", "data")


@admin.register(WalkForward)
class WalkForwardAdmin(ResearchRecordAdmin):
    list_display = (
        "id",
        "strategy",
        "symbol",
        "timeframe",
        "mode",
        "windows",
        "status",
        "study",
        "created_at",
    )
    list_filter = ("status", "mode", "strategy", "symbol")
    exclude = ("results",)
