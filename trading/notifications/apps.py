from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "trading.notifications"
    label = "notifications"
    verbose_name = "Notifications"
