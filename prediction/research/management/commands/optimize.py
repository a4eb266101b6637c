"""python manage.py optimize STRATEGY --param fast=5:50:5 --param slow=20:200:10 ..."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from prediction.research.management.commands._research_args import (
    add_study_arguments,
    study_kwargs,
)
from prediction.research.models import ResearchStatus, Study
from prediction.research.services.studies import (
    study_create,
    study_resume,
    study_run_inline,
    study_start,
)
from xquant.errors import ApplicationError


def print_study(out, study: Study) -> None:
    r = study.results
    out.write(
        f"study #{study.pk}: {study.strategy} on {study.symbol} {study.timeframe}, "
        f"{study.trials_done} trials ({study.sampler}), objective {study.objective}: "
        f"{study.status}"
    )
    if study.error:
        out.write(f"  error: {study.error}")
    if not r:
        return
    states = r.get("states", {})
    out.write(
        f"  trials: {states.get('complete', 0)} complete ({r.get('feasible', 0)} feasible), "
        f"{states.get('pruned', 0)} pruned, {states.get('fail', 0)} failed"
    )
    for row in r.get("best", [])[:5]:
        m = row["metrics"]
        out.write(
            f"  #{row['number']:<4} {study.objective} {row['value']:.4f}  "
            f"return {m.get('total_return') or 0:.2%}  trades {m.get('trade_count')}  "
            f"{row['params']}"
        )
    if r.get("importance"):
        out.write("  importance: " + ", ".join(f"{k} {v:.2f}" for k, v in r["importance"].items()))
    of = r.get("overfitting", {})
    out.write(f"  deflated Sharpe: {of.get('deflated_sharpe_reading', '')}")
    out.write(f"  PBO: {of.get('pbo_reading', '')}")


class Command(BaseCommand):
    help = (
        "Search a strategy's parameters with optuna (grid, random or TPE) on stored candles "
        "and print the best trials and the overfitting statistics. Trials run in this "
        "process, or with --distributed on the Celery workers (REDIS_URL)."
    )

    def add_arguments(self, parser):
        add_study_arguments(parser)
        parser.add_argument("--pruning", action="store_true")
        parser.add_argument(
            "--distributed",
            action="store_true",
            help="run the trials as Celery tasks on the workers; this command watches",
        )
        parser.add_argument("--parallelism", type=int, default=4, help="chains with --distributed")
        parser.add_argument("--resume", type=int, metavar="STUDY_ID", help="resume a study")
        parser.add_argument(
            "--timeout", type=float, default=3600.0, help="--distributed: give up after"
        )

    def handle(self, *args, **opts):
        try:
            if opts["resume"]:
                study = Study.objects.get(pk=opts["resume"])
                if opts["distributed"]:
                    study_resume(study_id=study.pk)
            else:
                study = study_create(
                    **study_kwargs(opts),
                    pruning=opts["pruning"],
                    parallelism=opts["parallelism"],
                )
                if opts["distributed"]:
                    study_start(study_id=study.pk)
        except Study.DoesNotExist:
            raise CommandError(f"Study {opts['resume']} does not exist.") from None
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        bar = tqdm(
            total=study.n_trials,
            initial=study.trials_done,
            unit="trial",
            desc=f"study #{study.pk}",
            disable=opts["no_progress"],
        )

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        if opts["distributed"]:
            deadline = time.monotonic() + opts["timeout"]
            while study.status not in (ResearchStatus.FINISHED, ResearchStatus.FAILED):
                if time.monotonic() > deadline:
                    bar.close()
                    raise CommandError(
                        f"study #{study.pk} not finished after {opts['timeout']:.0f} s "
                        f"({study.trials_done} of {study.n_trials}); resume it with "
                        f"--resume {study.pk} --distributed"
                    )
                time.sleep(0.5)
                study.refresh_from_db()
                progress(study.trials_done, study.n_trials)
        else:
            study = study_run_inline(study_id=study.pk, progress=progress)
        bar.close()
        print_study(self.stdout, study)
