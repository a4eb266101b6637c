"""Reads of studies, their trials and walk-forward analyses."""

from __future__ import annotations

from typing import Any

import optuna
from django.db.models import QuerySet

from prediction.research.models import Study, WalkForward
from prediction.research.services.results import trial_row
from prediction.research.storage import research_storage
from xquant.errors import NotFoundError


def study_list() -> QuerySet[Study]:
    return Study.objects.all().defer("results", "data")


def study_get(*, study_id: int) -> Study:
    try:
        return Study.objects.get(pk=study_id)
    except Study.DoesNotExist:
        raise NotFoundError(f"Study {study_id} does not exist.") from None


def study_trials(*, study: Study) -> list[dict[str, Any]]:
    ostudy = optuna.load_study(study_name=study.optuna_name, storage=research_storage())
    return [trial_row(t) for t in ostudy.get_trials(deepcopy=False)]


def walkforward_list() -> QuerySet[WalkForward]:
    return WalkForward.objects.all().defer("results")


def walkforward_get(*, walkforward_id: int) -> WalkForward:
    try:
        return WalkForward.objects.get(pk=walkforward_id)
    except WalkForward.DoesNotExist:
        raise NotFoundError(f"Walk-forward analysis {walkforward_id} does not exist.") from None
