"""Dashboard pages of the research loop, under /research/."""

from django.urls import path

from prediction.research import pages

app_name = "research"

urlpatterns = [
    path("studies/", pages.studies, name="studies"),
    path("studies/<int:study_id>/", pages.study_detail, name="study"),
    path("studies/<int:study_id>/strategy/", pages.study_strategy, name="study-strategy"),
    path(
        "studies/<int:study_id>/walkforward/",
        pages.study_walkforward,
        name="study-walkforward",
    ),
]
