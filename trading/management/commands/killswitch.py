"""`manage.py killswitch engage --reason ... | release | status`."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from exchanges.registry import get_exchange
from trading.selectors import risk_limits_get
from trading.services.audit import command_actor
from trading.services.risk import kill_switch_engage, kill_switch_release


class Command(BaseCommand):
    help = "Engage (stop all trading, cancel open orders) or release the global kill switch."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["engage", "release", "status"])
        parser.add_argument("--reason", default="", help="why (kept on the risk record)")

    def handle(self, *args, action: str, reason: str, **options) -> None:
        if action == "engage":
            result = kill_switch_engage(
                reason=reason or "engaged from the command line",
                exchange=get_exchange(),
                actor=command_actor("killswitch engage"),
            )
            self.stdout.write(self.style.WARNING(f"Kill switch ENGAGED: {result['reason']}"))
            self.stdout.write(f"{result['canceled']} open orders cancelled")
            for failure in result["failed"]:
                self.stdout.write(self.style.ERROR(f"could not cancel: {failure}"))
        elif action == "release":
            kill_switch_release(reason=reason, actor=command_actor("killswitch release"))
            self.stdout.write(self.style.SUCCESS("Kill switch released: orders are allowed again"))
        else:
            limits = risk_limits_get()
            state = (
                f"ENGAGED ({limits.kill_switch_reason})"
                if limits.kill_switch_engaged
                else "released"
            )
            self.stdout.write(f"Kill switch {state}")
