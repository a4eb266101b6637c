from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from xquant.metrics import metrics_view
from xquant.probes import livez, readyz


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Browsers ask for /favicon.ico on pages that do not link an icon (the admin, the
    # API docs): the dashboard's icon, instead of a 404 logged for every page.
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("xquant.api.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("livez", livez, name="livez"),
    path("readyz", readyz, name="readyz"),
    path("research/", include("prediction.research.page_urls")),
    path("", include("trading.urls")),
]

handler400 = "xquant.api.views.bad_request"
handler404 = "xquant.api.views.not_found"
handler500 = "xquant.api.views.server_error"
