"""python manage.py walkforward STRATEGY --param ... --windows 4 --mode rolling"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from prediction.research.management.commands._research_args import (
    add_study_arguments,
    study_kwargs,
)
from prediction.research.services.walkforward import walkforward_create, walkforward_run
from xquant.errors import ApplicationError


def _f(x, fmt=".4f"):
    return "n/a" if x is None else format(x, fmt)


class Command(BaseCommand):
    help = (
        "Walk-forward analysis: optimise on each window's in-sample part, trade the best "
        "parameters on the out-of-sample part after it, stitch the out-of-sample equity."
    )

    def add_arguments(self, parser):
        add_study_arguments(parser)
        parser.add_argument("--mode", default="rolling", choices=["rolling", "anchored"])
        parser.add_argument("--windows", type=int, default=4)
        parser.add_argument("--oos", type=float, default=0.25, help="out-of-sample share")

    def handle(self, *args, **opts):
        try:
            wf = walkforward_create(
                **study_kwargs(opts),
                mode=opts["mode"],
                windows=opts["windows"],
                oos_fraction=opts["oos"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        bar = tqdm(
            total=wf.windows,
            unit="window",
            desc=f"walk-forward #{wf.pk}",
            disable=opts["no_progress"],
        )
        wf = walkforward_run(
            walkforward_id=wf.pk, progress=lambda done, total: bar.update(done - bar.n)
        )
        bar.close()
        self.stdout.write(
            f"walk-forward #{wf.pk}: {wf.strategy} on {wf.symbol} {wf.timeframe}, {wf.mode}, "
            f"{wf.windows} windows, {wf.n_trials} trials each, objective {wf.objective}: "
            f"{wf.status}"
        )
        if wf.error:
            raise CommandError(wf.error)
        for row in wf.results["windows"]:
            self.stdout.write(
                f"  {row['window']}: in {row['is_start'][:10]}..{row['is_end'][:10]} "
                f"{_f(row['is_value'])}  out {row['oos_start'][:10]}..{row['oos_end'][:10]} "
                f"{_f(row['oos_value'])}  {row['params']}"
            )
        s = wf.results["summary"]
        m = wf.results["stitched_metrics"]
        self.stdout.write(
            f"  mean in-sample {_f(s['mean_is'])}, out-of-sample {_f(s['mean_oos'])}, "
            f"degradation {_f(s['degradation'])}, efficiency {_f(s['efficiency'], '.2f')}"
        )
        self.stdout.write(
            f"  stitched out-of-sample: return {_f(m.get('total_return'), '.2%')}, "
            f"Sharpe {_f(m.get('sharpe'), '.2f')}, max drawdown {_f(m.get('max_drawdown'), '.2%')}"
        )
