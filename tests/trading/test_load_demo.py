from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from trading.models import RiskLimits, StrategyConfig
from trading.strategies.params import validate_params

pytestmark = pytest.mark.django_db


def run() -> str:
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def test_load_demo_creates_valid_strategies_risk_limits_and_an_admin(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    output = run()
    strategies = StrategyConfig.objects.all()
    assert strategies.count() >= 4
    for strategy in strategies:
        validate_params(strategy.kind, strategy.params)
    assert RiskLimits.objects.count() == 1
    admin = get_user_model().objects.get(username="admin")
    password = (tmp_path / "admin-password.txt").read_text().strip()
    assert admin.is_superuser and admin.check_password(password)
    assert f"admin / {password}" in output


def test_load_demo_is_idempotent_and_prints_the_password_again(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    run()
    count = StrategyConfig.objects.count()
    output = run()
    assert StrategyConfig.objects.count() == count
    assert "already there" in output
    assert (tmp_path / "admin-password.txt").read_text().strip() in output


def test_admin_password_from_the_environment(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("XQUANT_ADMIN_USER", "desk")
    monkeypatch.setenv("XQUANT_ADMIN_PASSWORD", "chosen-pass-991")
    run()
    assert get_user_model().objects.get(username="desk").check_password("chosen-pass-991")
    assert not (tmp_path / "admin-password.txt").exists()
