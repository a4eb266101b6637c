"""Dashboard pages of the research loop: the studies list with its form, and a page per
study (live progress, best trials, importance, heatmap, overfitting statistics, the
walk-forward table and stitched out-of-sample curve, and the button that turns the
parameters into an inactive strategy config). Thin: every action is a service call."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from prediction.research import selectors
from prediction.research.forms import StrategyFromStudyForm, StudyForm, WalkForwardForm
from prediction.research.models import ResearchStatus, Study
from prediction.research.services.strategy import study_strategy_create
from prediction.research.services.studies import study_launch
from prediction.research.services.walkforward import walkforward_launch
from trading.services.audit import actor_from_request
from trading.views.access import desk_view, refused
from trading.views.live import Fragment, render_live_page
from xquant import roles
from xquant.errors import ApplicationError, NotFoundError

RECENT = 25


@desk_view()
def studies(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not request.user.has_perm(roles.RUN_BACKTEST):
            return refused(request, roles.RUN_BACKTEST)
        form = StudyForm(request.POST)
        if form.is_valid():
            try:
                study = study_launch(user=request.user, **form.launch_kwargs())
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Study #{study.pk} started.")
                return redirect("research:study", study_id=study.pk)
    else:
        form = StudyForm()
    fragments = {
        "studies": Fragment(
            "research/fragments/study_list.html",
            lambda: {"studies": selectors.study_list()[:RECENT]},
        )
    }
    return render_live_page(request, "research/studies.html", fragments, {"form": form})


def _heat_color(value: float | None, low: float, high: float) -> str:
    if value is None:
        return ""
    share = 0.5 if high == low else (value - low) / (high - low)
    # Red (worst) to green (best), light enough for the numbers to stay readable.
    hue = int(120 * share)
    return f"background: hsl({hue} 65% 78%); color: #111"


def study_context(study: Study) -> dict[str, Any]:
    results = study.results or {}
    heat = results.get("heatmap") or {}
    cells = [v for row in heat.get("values", []) for v in row if v is not None]
    low, high = (min(cells), max(cells)) if cells else (0.0, 0.0)
    heat_rows = [
        {
            "label": label,
            "cells": [{"value": v, "style": _heat_color(v, low, high)} for v in row],
        }
        for label, row in zip(heat.get("y_labels", []), heat.get("values", []), strict=False)
    ]
    importance = results.get("importance") or {}
    top = max(importance.values(), default=0) or 1
    walkforward = study.walkforwards.order_by("-created_at").first()
    stitched = []
    if walkforward and walkforward.results.get("stitched"):
        from datetime import datetime

        stitched = [
            {"time": int(datetime.fromisoformat(t).timestamp()), "value": v}
            for t, v in walkforward.results["stitched"]
        ]
    return {
        "study": study,
        "results": results,
        "best": results.get("best", []),
        "importance": [
            {"name": k, "value": v, "width": round(100 * v / top)} for k, v in importance.items()
        ],
        "heatmap": heat,
        "heat_rows": heat_rows,
        "overfitting": results.get("overfitting") or {},
        "walkforward": walkforward,
        "stitched": stitched,
        "strategy_form": StrategyFromStudyForm(),
        "walkforward_form": WalkForwardForm(),
    }


def _study_or_404(study_id: int) -> Study:
    try:
        return selectors.study_get(study_id=study_id)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc


@desk_view()
def study_detail(request: HttpRequest, study_id: int) -> HttpResponse:
    _study_or_404(study_id)
    fragments = {
        "study": Fragment(
            "research/fragments/study_detail.html",
            lambda: study_context(selectors.study_get(study_id=study_id)),
        )
    }
    return render_live_page(
        request, "research/study_detail.html", fragments, {"study_id": study_id}
    )


@desk_view(roles.ADD_STRATEGY)
def study_strategy(request: HttpRequest, study_id: int) -> HttpResponse:
    if request.method != "POST":
        return redirect("research:study", study_id=study_id)
    study = _study_or_404(study_id)
    form = StrategyFromStudyForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("research:study", study_id=study_id)
    quantity = form.cleaned_data.get("quantity")
    try:
        strategy = study_strategy_create(
            study=study,
            trial_number=form.cleaned_data.get("trial"),
            quantity=str(quantity) if quantity else None,
            actor=actor_from_request(request),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("research:study", study_id=study_id)
    messages.success(
        request,
        f"Strategy “{strategy.name}” created, switched off: review it and switch it on when ready.",
    )
    return redirect(reverse("trading:strategy", args=[strategy.pk]))


@desk_view(roles.RUN_BACKTEST)
def study_walkforward(request: HttpRequest, study_id: int) -> HttpResponse:
    if request.method != "POST":
        return redirect("research:study", study_id=study_id)
    study = _study_or_404(study_id)
    form = WalkForwardForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("research:study", study_id=study_id)
    if study.status != ResearchStatus.FINISHED:
        messages.error(request, "Run the walk-forward once the study has finished.")
        return redirect("research:study", study_id=study_id)
    try:
        walkforward_launch(
            strategy=study.strategy,
            symbol=study.symbol,
            timeframe=study.timeframe,
            start=study.start,
            end=study.end,
            synthetic=study.synthetic,
            space=study.space,
            fixed_params=study.fixed_params,
            settings=study.config,
            objective=study.objective,
            constraints=study.constraints,
            sampler=study.sampler,
            seed=study.seed,
            study=study,
            user=request.user,
            **form.cleaned_data,
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Walk-forward analysis started.")
    return redirect("research:study", study_id=study_id)
