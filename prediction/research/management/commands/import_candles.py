"""python manage.py import_candles FILE.csv [--timeframe 1h] [--synthetic] [--update]"""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from prediction.research.services.candle_import import candles_import_csv
from prediction.timeframes import TIMEFRAMES
from xquant.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Import candles from a CSV file with the header timestamp,open,high,low,close,"
        "volume,symbol; every row is validated and rejected rows are reported with their "
        "line and reason."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--timeframe", choices=TIMEFRAMES, help="Default: each symbol's most common spacing."
        )
        parser.add_argument(
            "--synthetic",
            action="store_true",
            help="The prices are simulated: stored apart from real candles, never mixed.",
        )
        parser.add_argument("--update", action="store_true", help="Overwrite bars already stored.")
        parser.add_argument("--source", default="", help="Default: csv:<file name>.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report only.")
        parser.add_argument(
            "--rejects", type=Path, help="Write every rejected row (line, reason, row) here."
        )
        parser.add_argument(
            "--fail-on-reject", action="store_true", help="Exit 1 if any row is rejected."
        )

    def handle(self, *args, **opts):
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            report = candles_import_csv(
                source=path,
                timeframe=opts["timeframe"],
                synthetic=opts["synthetic"],
                update=opts["update"],
                source_name=opts["source"] or f"csv:{path.name}"[:30],
                dry_run=opts["dry_run"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        for line in report.lines():
            self.stdout.write(line)
        if opts["rejects"]:
            with opts["rejects"].open("w", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["line", "reason", "row"])
                for r in report.rejects:
                    writer.writerow([r.line, r.reason, r.raw])
            self.stdout.write(f"Rejected rows written to {opts['rejects']}.")
        if report.rejected and opts["fail_on_reject"]:
            raise CommandError(f"{report.rejected} rows rejected.")
