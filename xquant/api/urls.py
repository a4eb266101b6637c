"""Everything under /api/."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from xquant.api.root import ApiRootView


# The split view serves its start-up script as a file of its own (?script): no inline
# script, so the Content-Security-Policy holds on this page too.
class SwaggerUIView(SpectacularSwaggerSplitView):
    # The page has only an HTML renderer: DRF's OPTIONS metadata cannot be rendered
    # with it (a 500), so OPTIONS is answered 405 like any other unsupported method.
    http_method_names = ["get", "head"]


urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SwaggerUIView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("trading.api.urls")),
    path("", include("prediction.urls")),
]
