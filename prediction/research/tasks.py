"""Celery tasks of the research loop: ids in, services called."""

from __future__ import annotations

from celery import shared_task

from prediction.research.services.studies import WAIT_SECONDS
from prediction.research.services.trials import study_trial_run

#: A link that keeps finding every remaining trial running elsewhere gives up after this
#: many looks (a minute): the study stays resumable, nothing polls forever.
MAX_WAITS = 30


@shared_task(name="research.study_trial_chain", ignore_result=True)
def study_trial_chain(study_id: int, waits: int = 0) -> str:
    """One link of a study's chain: run a trial, then queue the next link. Acknowledged
    early on purpose: a link whose worker dies is not redelivered (Redis would hold it
    for the whole visibility timeout); the heartbeat retries its trial and the other
    chains carry the study to its end (`study_resume` starts new ones)."""
    outcome = study_trial_run(study_id=study_id)
    if outcome == "ran":
        study_trial_chain.delay(study_id)
    elif outcome == "wait" and waits < MAX_WAITS:
        study_trial_chain.apply_async((study_id, waits + 1), countdown=WAIT_SECONDS)
    return outcome


@shared_task(name="research.walkforward_execute", ignore_result=True)
def walkforward_execute(walkforward_id: int) -> str:
    from prediction.research.services.walkforward import walkforward_run

    return walkforward_run(walkforward_id=walkforward_id).status
