"""What the research loop tells the dashboard, as typed events (the trading side's
`trading.events` shape, sent through its one `publish`). static/js/study.js and the
study page's live fragment listen for these names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from prediction.research.models import Study, WalkForward
from trading.events import Event, publish

__all__ = [
    "StudyFinished",
    "StudyProgress",
    "WalkForwardFinished",
    "WalkForwardProgress",
    "publish",
]


@dataclass(frozen=True)
class StudyProgress(Event):
    name: ClassVar[str] = "study.progress"
    study: Study
    done: int
    trial: int
    state: str
    value: float | None

    def payload(self) -> dict[str, Any]:
        total = self.study.n_trials
        return {
            "id": self.study.pk,
            "done": self.done,
            "total": total,
            "percent": min(100, int(self.done * 100 / total)) if total else 100,
            "trial": self.trial,
            "state": self.state,
            "value": self.value,
        }


@dataclass(frozen=True)
class StudyFinished(Event):
    name: ClassVar[str] = "study.finished"
    study: Study

    def payload(self) -> dict[str, Any]:
        return {"id": self.study.pk, "status": self.study.status, "error": self.study.error}


@dataclass(frozen=True)
class WalkForwardProgress(Event):
    name: ClassVar[str] = "walkforward.progress"
    walkforward: WalkForward
    done: int
    total: int

    def payload(self) -> dict[str, Any]:
        wf = self.walkforward
        return {"id": wf.pk, "done": self.done, "total": self.total, "study": wf.study_id}


@dataclass(frozen=True)
class WalkForwardFinished(Event):
    name: ClassVar[str] = "walkforward.finished"
    walkforward: WalkForward

    def payload(self) -> dict[str, Any]:
        wf = self.walkforward
        return {"id": wf.pk, "status": wf.status, "study": wf.study_id, "error": wf.error}
