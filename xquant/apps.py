from django.apps import AppConfig


class XquantConfig(AppConfig):
    name = "xquant"
    verbose_name = "xQuant"
