from django.apps import AppConfig


class ResearchConfig(AppConfig):
    name = "prediction.research"
    label = "research"
    verbose_name = "Research (studies, walk-forward)"
    default_auto_field = "django.db.models.BigAutoField"
