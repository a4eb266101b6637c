from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"
    verbose_name = "Trading"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_create_schedules, sender=self)
        post_migrate.connect(_sync_role_groups, sender=self)
        # Registers the "streams" health check (issue 19).
        import trading.streams.health  # noqa: F401


def _create_schedules(sender, **kwargs) -> None:
    """Each `migrate` makes sure beat has a tick task per configured symbol."""
    from django.conf import settings

    from trading.services.schedules import schedules_sync

    schedules_sync(symbols=settings.TRADING_SYMBOLS, tick_seconds=settings.TICK_SECONDS)


def _sync_role_groups(sender, **kwargs) -> None:
    """The role groups were made by a migration; each `migrate` (and a test database
    flush) gives them their permissions again, so the admin role also holds the
    permissions of models added since."""
    from xquant.roles import role_groups_sync

    role_groups_sync()
