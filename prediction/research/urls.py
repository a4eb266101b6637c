"""/api/research/... (included by prediction/urls.py)."""

from django.urls import path

from prediction.research import views

urlpatterns = [
    path("studies", views.StudyListView.as_view(), name="research-studies"),
    path("studies/<int:study_id>", views.StudyDetailView.as_view(), name="research-study"),
    path(
        "studies/<int:study_id>/trials",
        views.StudyTrialsView.as_view(),
        name="research-study-trials",
    ),
    path(
        "studies/<int:study_id>/resume",
        views.StudyResumeView.as_view(),
        name="research-study-resume",
    ),
    path(
        "studies/<int:study_id>/strategy",
        views.StudyStrategyView.as_view(),
        name="research-study-strategy",
    ),
    path("walkforwards", views.WalkForwardListView.as_view(), name="research-walkforwards"),
    path(
        "walkforwards/<int:walkforward_id>",
        views.WalkForwardDetailView.as_view(),
        name="research-walkforward",
    ),
    path("checks", views.LookaheadCheckView.as_view(), name="research-checks"),
]
