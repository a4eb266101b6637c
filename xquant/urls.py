from django.contrib import admin
from django.urls import include, path

from xquant.metrics import metrics_view
from xquant.probes import livez, readyz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("xquant.api.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("livez", livez, name="livez"),
    path("readyz", readyz, name="readyz"),
    path("", include("trading.urls")),
]

handler404 = "xquant.api.views.not_found"
handler500 = "xquant.api.views.server_error"
