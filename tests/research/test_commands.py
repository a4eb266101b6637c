from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from prediction.research.models import ResearchStatus, Study, WalkForward

pytestmark = pytest.mark.django_db


def test_optimize_runs_a_study_and_prints_best_trials_and_readings(capsys):
    call_command(
        "optimize",
        "trend_following",
        "--timeframe",
        "1h",
        "--param",
        "fast=5:25:5",
        "--param",
        "slow=40:100:20",
        "--param",
        "ma_type=sma,ema",
        "--sampler",
        "random",
        "--trials",
        "12",
        "--seed",
        "4",
        "--min-trades",
        "2",
    )
    out = capsys.readouterr()
    study = Study.objects.get()
    assert study.status == ResearchStatus.FINISHED and study.trials_done == 12
    assert study.space["ma_type"] == {"type": "categorical", "choices": ["sma", "ema"]}
    assert study.constraints == {"min_trades": 2}
    assert f"study #{study.pk}: trend_following on BTCUSDT 1h, 12 trials (random)" in out.out
    assert "deflated Sharpe: After accounting for" in out.out
    assert "PBO: In " in out.out
    assert "12/12" in out.err  # the progress bar


def test_optimize_explains_a_bad_space():
    with pytest.raises(CommandError, match="not a parameter of trend_following"):
        call_command("optimize", "trend_following", "--param", "speed=1:3", "--no-progress")


def test_walkforward_prints_each_window_and_the_degradation(capsys):
    call_command(
        "walkforward",
        "trend_following",
        "--timeframe",
        "1h",
        "--param",
        "fast=5:25:10",
        "--param",
        "slow=40:80:20",
        "--sampler",
        "grid",
        "--trials",
        "9",
        "--windows",
        "3",
        "--mode",
        "anchored",
    )
    out = capsys.readouterr()
    wf = WalkForward.objects.get()
    assert wf.status == ResearchStatus.FINISHED
    assert out.out.count("\n  1: in ") == 1 and "\n  3: in " in out.out
    assert "degradation" in out.out and "stitched out-of-sample: return" in out.out
    assert "3/3" in out.err
