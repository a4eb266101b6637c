from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from prediction.models import Candle

pytestmark = pytest.mark.django_db

GOOD = """timestamp,open,high,low,close,volume,symbol
2024-01-01T00:00:00Z,100,110,95,105,12.5,ethusdt
2024-01-01T01:00:00Z,105,106,101,102,3,ETHUSDT
1704074400,102,104,100,103,0,ETHUSDT
1704078000000,103,108,102,107,1,ETHUSDT
"""

BAD_ROWS = """timestamp,open,high,low,close,volume,symbol
2024-01-01T00:00:00Z,100,110,95,105,1,SOLUSDT
2024-01-01T01:00:00Z,100,99,95,98,1,SOLUSDT
2024-01-01T02:00:00Z,abc,110,95,105,1,SOLUSDT
2024-01-01T03:00:00Z,100,110,95,105,-1,SOLUSDT
yesterday,100,110,95,105,1,SOLUSDT
2024-01-01T04:00:00Z,100,110,95,105,1,sol/usdt
2024-01-01T05:00:00Z,100,110,95
2024-01-01T00:00:00Z,101,111,96,106,1,SOLUSDT
2024-01-01T06:30:00Z,100,110,95,105,1,SOLUSDT
2024-01-01T07:00:00Z,100,110,101,105,1,SOLUSDT
2024-01-01T08:00:00Z,100,110,95,105,1,SOLUSDT
2024-01-01T09:00:00Z,0,110,95,105,1,SOLUSDT
"""


def _run(tmp_path, text, *args):
    path = tmp_path / "candles.csv"
    path.write_text(text)
    out = StringIO()
    call_command("import_candles", str(path), *args, stdout=out)
    return out.getvalue()


def test_import_stores_every_valid_row_as_real_candles_with_the_inferred_timeframe(tmp_path):
    out = _run(tmp_path, GOOD)
    assert "4 rows read: 4 accepted, 0 rejected." in out
    assert "ETHUSDT 1h (real): 4 bars" in out
    rows = list(Candle.objects.filter(symbol="ETHUSDT").order_by("open_time"))
    assert [r.open_time for r in rows] == [datetime(2024, 1, 1, h, tzinfo=UTC) for h in range(4)]
    assert rows[0].close == Decimal("105") and rows[0].volume == Decimal("12.5")
    assert {r.timeframe for r in rows} == {"1h"}
    assert {r.synthetic for r in rows} == {False}
    assert {r.source for r in rows} == {"csv:candles.csv"}


def test_every_bad_row_is_rejected_with_its_line_and_reason(tmp_path):
    rejects = tmp_path / "rejects.csv"
    out = _run(tmp_path, BAD_ROWS, "--timeframe", "1h", "--rejects", str(rejects))
    assert "12 rows read: 2 accepted, 10 rejected." in out
    for expected in (
        "line 3: high 99 is below open, close or low (100, 98, 95)",
        "line 4: open 'abc' is not a number",
        "line 5: volume -1 is negative",
        "line 6: timestamp 'yesterday' is neither ISO 8601",
        "line 7: symbol 'sol/usdt' is not an exchange symbol",
        "line 8: 4 fields, 7 expected",
        "line 9: duplicate of line 2 (SOLUSDT 2024-01-01 00:00)",
        "line 10: 2024-01-01T06:30:00+00:00 is not a 1h open time",
        "line 11: low 101 is above open or close (100, 105)",
        "line 13: open 0 is not a positive price",
    ):
        assert expected in out, expected
    assert Candle.objects.filter(symbol="SOLUSDT").count() == 2
    assert len(rejects.read_text().splitlines()) == 1 + 10


def test_real_import_never_touches_synthetic_candles_of_the_same_key(tmp_path):
    when = datetime(2024, 1, 1, tzinfo=UTC)
    Candle.objects.create(
        symbol="ETHUSDT",
        timeframe="1h",
        open_time=when,
        open=1,
        high=1,
        low=1,
        close=1,
        volume=0,
        source="paper",
        synthetic=True,
    )
    _run(tmp_path, GOOD)
    synthetic = Candle.objects.get(symbol="ETHUSDT", open_time=when, synthetic=True)
    real = Candle.objects.get(symbol="ETHUSDT", open_time=when, synthetic=False)
    assert synthetic.close == 1 and synthetic.source == "paper"
    assert real.close == 105


def test_existing_bars_are_kept_unless_update_is_asked(tmp_path):
    _run(tmp_path, GOOD)
    changed = GOOD.replace("100,110,95,105,12.5", "100,120,95,115,12.5")
    out = _run(tmp_path, changed)
    assert "0 new bars stored, 0 existing bars updated, 4 existing bars kept" in out
    assert (
        Candle.objects.get(symbol="ETHUSDT", open_time=datetime(2024, 1, 1, tzinfo=UTC)).close
        == 105
    )
    out = _run(tmp_path, changed, "--update")
    assert "4 existing bars updated" in out
    assert (
        Candle.objects.get(symbol="ETHUSDT", open_time=datetime(2024, 1, 1, tzinfo=UTC)).close
        == 115
    )


def test_a_wrong_header_is_refused_before_any_row(tmp_path):
    with pytest.raises(CommandError, match="must be timestamp,open,high,low,close,volume,symbol"):
        _run(tmp_path, "time,o,h,l,c,v,s\n1,2,3,4,5,6,X\n")


def test_synthetic_import_and_dry_run(tmp_path):
    out = _run(tmp_path, GOOD, "--synthetic", "--dry-run")
    assert "ETHUSDT 1h (synthetic)" in out and "4 new bars would be stored" in out
    assert not Candle.objects.filter(symbol="ETHUSDT").exists()
