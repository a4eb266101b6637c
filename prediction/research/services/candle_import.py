"""Candles from a CSV file in the original system's format:

    timestamp,open,high,low,close,volume,symbol

Every row is checked on its own and either accepted or rejected with its line number
and the reason; accepted rows are stored through the same `candles_store` as fetched
candles. `timestamp` is the bar's open time: ISO 8601 (no offset means UTC) or Unix
seconds or milliseconds. The timeframe is given, or inferred per symbol from the most
common spacing of its timestamps. Imported candles are real market data unless the
file is declared synthetic: real and synthetic candles never share a key (issue 17), so
an import of one kind never overwrites, nor is read as, the other. Bars already stored
(same symbol, timeframe, kind and open time) are kept unless `update` is asked.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.db import transaction

from exchanges.base import Candle as BarValue
from prediction.models import Candle
from prediction.services.candles import candles_store
from prediction.timeframes import TIMEFRAME_SECONDS, timeframe_seconds
from xquant.errors import ValidationError

COLUMNS = ("timestamp", "open", "high", "low", "close", "volume", "symbol")
#: Timestamps above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 100_000_000_000


@dataclass
class Reject:
    line: int
    reason: str
    raw: str


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    stored: int = 0
    updated: int = 0
    kept_existing: int = 0
    rejects: list[Reject] = field(default_factory=list)
    per_symbol: dict[str, dict[str, Any]] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def lines(self, *, rejects_listed: int = 50) -> list[str]:
        out = [
            f"{self.rows} rows read: {self.accepted} accepted, {self.rejected} rejected.",
        ]
        for symbol, info in self.per_symbol.items():
            out.append(
                f"{symbol} {info['timeframe']} ({info['kind']}): {info['bars']} bars from "
                f"{info['first']} to {info['last']}"
            )
        verb = "would be stored" if self.dry_run else "stored"
        out.append(
            f"{self.stored} new bars {verb}, {self.updated} existing bars updated, "
            f"{self.kept_existing} existing bars kept (use --update to overwrite them)."
        )
        for r in self.rejects[:rejects_listed]:
            out.append(f"  line {r.line}: {r.reason}")
        if self.rejected > rejects_listed:
            out.append(f"  ... and {self.rejected - rejects_listed} more rejected rows.")
        return out


def _timestamp(text: str) -> datetime:
    text = text.strip()
    if not text:
        raise ValueError("timestamp is empty")
    if text.lstrip("-").isdigit():
        value = int(text)
        if value < 0:
            raise ValueError(f"timestamp {text} is before 1970")
        seconds = value / 1000 if value >= _MS_THRESHOLD else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"timestamp {text!r} is neither ISO 8601 (2024-01-31T12:00:00Z) nor Unix "
            "seconds or milliseconds"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _decimal(name: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{name} {text.strip()!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} {text.strip()!r} is not a finite number")
    return value


def _row(values: list[str]) -> tuple[str, BarValue]:
    data = dict(zip(COLUMNS, values, strict=True))
    symbol = data["symbol"].strip().upper()
    if not settings.SYMBOL_PATTERN.match(symbol):
        raise ValueError(f"symbol {data['symbol'].strip()!r} is not an exchange symbol (BTCUSDT)")
    moment = _timestamp(data["timestamp"])
    o, h, lo, c = (_decimal(k, data[k]) for k in ("open", "high", "low", "close"))
    volume = _decimal("volume", data["volume"])
    for name, value in (("open", o), ("high", h), ("low", lo), ("close", c)):
        if value <= 0:
            raise ValueError(f"{name} {value} is not a positive price")
    if volume < 0:
        raise ValueError(f"volume {volume} is negative")
    if h < max(o, c, lo):
        raise ValueError(f"high {h} is below open, close or low ({o}, {c}, {lo})")
    if lo > min(o, c):
        raise ValueError(f"low {lo} is above open or close ({o}, {c})")
    return symbol, BarValue(open_time=moment, open=o, high=h, low=lo, close=c, volume=volume)


def _infer_timeframe(times: list[datetime]) -> str:
    if len(times) < 2:
        raise ValueError("one bar cannot tell its timeframe; give --timeframe")
    ordered = sorted(times)
    spacing = Counter(int((b - a).total_seconds()) for a, b in itertools.pairwise(ordered))
    seconds, _ = spacing.most_common(1)[0]
    for name, length in TIMEFRAME_SECONDS.items():
        if length == seconds:
            return name
    raise ValueError(
        f"the most common spacing, {seconds} s, is not a timeframe "
        f"({', '.join(TIMEFRAME_SECONDS)}); give --timeframe"
    )


def candles_import_csv(
    *,
    source: TextIO | str | Path,
    timeframe: str | None = None,
    synthetic: bool = False,
    update: bool = False,
    source_name: str = "csv",
    dry_run: bool = False,
) -> ImportReport:
    """Validate a CSV row by row and store the accepted rows (see the module doc)."""
    if timeframe is not None:
        timeframe_seconds(timeframe)
    if isinstance(source, str | Path):
        text: TextIO = open(source, newline="", encoding="utf-8-sig")  # noqa: SIM115
    else:
        text = source
    report = ImportReport(dry_run=dry_run)
    bars: dict[str, dict[datetime, tuple[int, BarValue]]] = defaultdict(dict)
    with text:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            raise ValidationError("The file is empty: it needs the header " + ",".join(COLUMNS))
        names = [h.strip().lower() for h in header]
        if names != list(COLUMNS):
            raise ValidationError(
                f"The header is {','.join(names)!r}; it must be {','.join(COLUMNS)}.",
                extra={"fields": {"file": ["Wrong header."]}},
            )
        for values in reader:
            line = reader.line_num
            if not values or all(not v.strip() for v in values):
                continue
            report.rows += 1
            raw = ",".join(values)
            if len(values) != len(COLUMNS):
                report.rejects.append(
                    Reject(line, f"{len(values)} fields, {len(COLUMNS)} expected", raw)
                )
                continue
            try:
                symbol, bar = _row(values)
            except ValueError as exc:
                report.rejects.append(Reject(line, str(exc), raw))
                continue
            if bar.open_time in bars[symbol]:
                first = bars[symbol][bar.open_time][0]
                report.rejects.append(
                    Reject(
                        line,
                        f"duplicate of line {first} ({symbol} {bar.open_time:%Y-%m-%d %H:%M})",
                        raw,
                    )
                )
                continue
            bars[symbol][bar.open_time] = (line, bar)
    plans: list[tuple[str, str, list[BarValue]]] = []
    for symbol, by_time in bars.items():
        try:
            tf = timeframe or _infer_timeframe(list(by_time))
        except ValueError as exc:
            for line, _bar in by_time.values():
                report.rejects.append(Reject(line, f"{symbol}: {exc}", ""))
            continue
        step = timeframe_seconds(tf)
        good = []
        for line, bar in by_time.values():
            if int(bar.open_time.timestamp()) % step:
                report.rejects.append(
                    Reject(
                        line,
                        f"{bar.open_time.isoformat()} is not a {tf} open time (not on the "
                        f"{step} s grid)",
                        "",
                    )
                )
                continue
            good.append(bar)
        good.sort(key=lambda b: b.open_time)
        if good:
            plans.append((symbol, tf, good))
    report.rejects.sort(key=lambda r: r.line)
    kind = "synthetic" if synthetic else "real"
    with transaction.atomic():
        for symbol, tf, good in plans:
            report.accepted += len(good)
            existing = set(
                Candle.objects.filter(
                    symbol=symbol,
                    timeframe=tf,
                    synthetic=synthetic,
                    open_time__in=[b.open_time for b in good],
                ).values_list("open_time", flat=True)
            )
            new = [b for b in good if b.open_time not in existing]
            old = [b for b in good if b.open_time in existing]
            to_store = new + (old if update else [])
            if update:
                report.updated += len(old)
            else:
                report.kept_existing += len(old)
            report.stored += len(new)
            report.per_symbol[symbol] = {
                "timeframe": tf,
                "kind": kind,
                "bars": len(good),
                "first": good[0].open_time.isoformat(),
                "last": good[-1].open_time.isoformat(),
            }
            if not dry_run and to_store:
                candles_store(
                    symbol=symbol,
                    timeframe=tf,
                    candles=to_store,
                    source=source_name,
                    synthetic=synthetic,
                )
    return report


def candles_import_text(text: str, **kwargs: Any) -> ImportReport:
    return candles_import_csv(source=io.StringIO(text), **kwargs)
