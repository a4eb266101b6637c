from django.apps import AppConfig


class XquantConfig(AppConfig):
    name = "xquant"
    verbose_name = "xQuant"

    def ready(self) -> None:
        # Registers the OpenAPI extensions (bearer scheme) with drf-spectacular.
        from xquant.api import schema  # noqa: F401
