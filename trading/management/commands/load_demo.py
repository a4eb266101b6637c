"""`manage.py load_demo`: demo strategy configs and an admin user, idempotently."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from trading.models import StrategyConfig
from trading.selectors import risk_limits_get
from trading.services.strategies import strategy_config_create

DEMO_STRATEGIES = [
    {
        "name": "BTC MA cross",
        "kind": "technical",
        "symbol": "BTCUSDT",
        "is_active": True,
        "params": {
            "signal": "ma_cross",
            "quantity": "0.002",
            "bar_seconds": 5,
            "fast_period": 5,
            "slow_period": 20,
        },
    },
    {
        "name": "ETH RSI",
        "kind": "technical",
        "symbol": "ETHUSDT",
        "is_active": True,
        "params": {"signal": "rsi", "quantity": "0.05", "bar_seconds": 5, "rsi_period": 6},
    },
    {
        "name": "BTC TWAP buy 0.02",
        "kind": "twap",
        "symbol": "BTCUSDT",
        "is_active": False,
        "params": {"side": "BUY", "total_quantity": "0.02", "slices": 10, "interval_seconds": 30},
    },
    {
        "name": "ETH iceberg sell 1",
        "kind": "iceberg",
        "symbol": "ETHUSDT",
        "is_active": False,
        "params": {"side": "SELL", "total_quantity": "1", "visible_quantity": "0.1"},
    },
]


class Command(BaseCommand):
    help = "Create demo strategy configs and an admin user (existing ones are left alone)."

    def handle(self, *args, **options) -> None:
        risk_limits_get()
        created = 0
        for spec in DEMO_STRATEGIES:
            if not StrategyConfig.objects.filter(name=spec["name"]).exists():
                strategy_config_create(**spec)
                created += 1
        self.stdout.write(
            f"Demo strategies: {created} created, {len(DEMO_STRATEGIES) - created} already there."
        )
        self._ensure_admin()

    def _ensure_admin(self) -> None:
        username = os.environ.get("XQUANT_ADMIN_USER", "admin")
        password = os.environ.get("XQUANT_ADMIN_PASSWORD", "")
        # A generated password is kept (owner-only) so later runs can print it again.
        password_file = Path(settings.VAR_DIR) / "admin-password.txt"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not password:
                password = secrets.token_urlsafe(12)
                password_file.parent.mkdir(parents=True, exist_ok=True)
                password_file.write_text(password + "\n")
                password_file.chmod(0o600)
            User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(self.style.SUCCESS(f"Admin user created: {username} / {password}"))
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write(f"Admin user: {username} (password from XQUANT_ADMIN_PASSWORD)")
        elif password_file.is_file() and user.check_password(password_file.read_text().strip()):
            self.stdout.write(f"Admin user: {username} / {password_file.read_text().strip()}")
        else:
            self.stdout.write(
                f"Admin user: {username} (password unchanged; set XQUANT_ADMIN_PASSWORD to choose one)"
            )
