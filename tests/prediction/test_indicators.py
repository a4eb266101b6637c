"""Indicators: hand-computed small cases, and bar-by-bar agreement with the `ta` library
(the reference) on the bundled real candles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import ta

from prediction import indicators as ind
from tests.prediction.conftest import synthetic_bars

nan = np.nan


def test_sma_of_a_small_series_is_the_trailing_mean():
    out = ind.sma(np.array([1.0, 2, 3, 4, 5]), 3)
    np.testing.assert_allclose(out, [nan, nan, 2, 3, 4])


def test_sma_side_decides_an_exact_tie_on_the_decimal_prices_whatever_the_float_rounding():
    # SMA(2) and SMA(4) of the last bar are both exactly 10.53; the floats are not equal.
    close = np.array([10.09, 10.33, 10.0, 10.0, 10.58, 10.48, 10.46, 10.6])
    fast, slow = ind.sma(close, 2), ind.sma(close, 4)
    assert fast[-1] != slow[-1]
    side = ind.sma_side(close, 2, 4, fast, slow)
    assert side[-1] == 0
    # Everywhere else the floats' sign is the exact one.
    np.testing.assert_array_equal(side[:-1], np.sign(fast - slow)[:-1])
    assert np.isnan(side[:3]).all()


def test_ema_seeds_with_the_first_value_and_uses_alpha_two_over_span_plus_one():
    # span 3 → alpha 0.5: 1, 1.5, 2.25, 3.125, 4.0625; the first two are warm-up.
    out = ind.ema(np.array([1.0, 2, 3, 4, 5]), 3)
    np.testing.assert_allclose(out, [nan, nan, 2.25, 3.125, 4.0625])


def test_rsi_of_a_small_series_matches_wilder_smoothing_by_hand():
    # window 2 (alpha 0.5): gains 0,1,1,0 → 0,.5,.75,.375; losses 0,0,0,1 → 0,0,0,.5
    out = ind.rsi(np.array([1.0, 2, 3, 2]), 2)
    np.testing.assert_allclose(out, [nan, 100, 100, 100 - 100 / (1 + 0.75)])


def test_true_range_uses_the_previous_close_across_a_gap():
    high = np.array([10.0, 10, 15])
    low = np.array([9.0, 9, 14])
    close = np.array([9.5, 9.5, 14.5])
    np.testing.assert_allclose(ind.true_range(high, low, close), [1, 1, 5.5])


def test_atr_seeds_with_the_mean_then_smooths_like_wilder():
    high = np.array([10.0, 11, 12, 13])
    low = np.array([8.0, 9, 10, 9])
    close = np.array([9.0, 10, 11, 12])
    # TR = 2, 2, 2, 4; ATR(3)[2] = mean = 2; ATR[3] = (2 * 2 + 4) / 3.
    np.testing.assert_allclose(ind.atr(high, low, close, 3), [nan, nan, 2, 8 / 3])


def test_bollinger_bands_use_the_population_standard_deviation():
    close = np.array([1.0, 2, 3])
    upper, mid, lower, width, pct = ind.bollinger(close, 3, 2.0)
    std = np.sqrt(2 / 3)
    np.testing.assert_allclose([upper[2], mid[2], lower[2]], [2 + 2 * std, 2, 2 - 2 * std])
    np.testing.assert_allclose(pct[2], (3 - (2 - 2 * std)) / (4 * std))
    np.testing.assert_allclose(width[2], 4 * std / 2 * 100)


def test_vwap_weights_the_typical_price_by_volume():
    high = np.array([11.0, 21])
    low = np.array([9.0, 19])
    close = np.array([10.0, 20])
    volume = np.array([1.0, 3])
    # typical 10 and 20 → (10 * 1 + 20 * 3) / 4 = 17.5
    np.testing.assert_allclose(ind.vwap(high, low, close, volume, 2), [nan, 17.5])


def test_obv_adds_volume_on_up_closes_and_subtracts_on_down_closes():
    out = ind.obv(np.array([10.0, 11, 10, 10]), np.array([1.0, 2, 3, 4]))
    np.testing.assert_allclose(out, [1, 3, 0, 4])


def test_stoch_rsi_is_the_position_of_rsi_in_its_recent_range():
    close = np.array([1.0, 2, 3, 2, 3, 4])
    stoch, _, _ = ind.stoch_rsi(close, 2, 1, 1)
    r = ind.rsi(close, 2)
    expected = (r[3] - min(r[2], r[3])) / (max(r[2], r[3]) - min(r[2], r[3]))
    np.testing.assert_allclose(stoch[3], expected)
    assert stoch[3] == 0.0  # RSI fell to the bottom of its 2-bar range


def _ta_reference(frame: pd.DataFrame, p: dict) -> dict[str, pd.Series]:
    h, lo, c, v = frame["high"], frame["low"], frame["close"], frame["volume"]
    macd = ta.trend.MACD(c, p["macd_slow"], p["macd_fast"], p["macd_signal"])
    bb = ta.volatility.BollingerBands(c, p["bb_window"], p["bb_dev"])
    st = ta.momentum.StochRSIIndicator(c, p["stoch_window"], p["stoch_smooth1"], p["stoch_smooth2"])
    return {
        "rsi": ta.momentum.RSIIndicator(c, p["rsi_window"]).rsi(),
        "macd": macd.macd(),
        "macd_signal": macd.macd_signal(),
        "macd_diff": macd.macd_diff(),
        "bb_upper": bb.bollinger_hband(),
        "bb_middle": bb.bollinger_mavg(),
        "bb_lower": bb.bollinger_lband(),
        "bb_width": bb.bollinger_wband(),
        "bb_percent": bb.bollinger_pband(),
        "stochrsi": st.stochrsi(),
        "stochrsi_k": st.stochrsi_k(),
        "stochrsi_d": st.stochrsi_d(),
        "atr": ta.volatility.AverageTrueRange(h, lo, c, p["atr_window"]).average_true_range(),
        "ema_fast": ta.trend.EMAIndicator(c, p["ema_fast"]).ema_indicator(),
        "ema_slow": ta.trend.EMAIndicator(c, p["ema_slow"]).ema_indicator(),
        "sma_fast": ta.trend.SMAIndicator(c, p["sma_fast"]).sma_indicator(),
        "sma_slow": ta.trend.SMAIndicator(c, p["sma_slow"]).sma_indicator(),
        "vwap": ta.volume.VolumeWeightedAveragePrice(
            h, lo, c, v, p["vwap_window"]
        ).volume_weighted_average_price(),
        "obv": ta.volume.OnBalanceVolumeIndicator(c, v).on_balance_volume(),
        "roc": ta.momentum.ROCIndicator(c, p["roc_window"]).roc(),
        "williams_r": ta.momentum.WilliamsRIndicator(h, lo, c, p["williams_window"]).williams_r(),
    }


def _assert_same_as_ta(ours: dict, reference: dict, atr_window: int) -> None:
    assert set(ours) == set(reference) == set(ind.INDICATOR_COLUMNS)
    for name, ref in reference.items():
        expected = ref.to_numpy(dtype=np.float64).copy()
        if name == "atr":
            # ta reports ATR's warm-up as 0; xQuant reports it as unknown (NaN).
            assert (expected[: atr_window - 1] == 0).all()
            expected[: atr_window - 1] = nan
        got = ours[name]
        assert np.array_equal(np.isnan(got), np.isnan(expected)), f"{name}: warm-up differs"
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9, err_msg=name)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {
            "rsi_window": 7,
            "macd_fast": 5,
            "macd_slow": 35,
            "macd_signal": 5,
            "bb_window": 50,
            "bb_dev": 2.5,
            "stoch_window": 21,
            "atr_window": 20,
            "ema_fast": 9,
            "ema_slow": 200,
            "sma_fast": 7,
            "sma_slow": 99,
            "vwap_window": 30,
            "roc_window": 5,
            "williams_window": 10,
        },
    ],
    ids=["defaults", "custom-windows"],
)
def test_every_indicator_equals_ta_bar_by_bar_on_real_candles(sample, sample_bars, params):
    p = ind.indicator_params(params)
    ours = ind.indicators_compute(sample_bars, p)
    _assert_same_as_ta(ours, _ta_reference(sample, p), p["atr_window"])


def test_every_indicator_equals_ta_on_synthetic_bars_with_zero_volume_stretches():
    bars = synthetic_bars(3_000, seed=11)
    volume = bars.volume.copy()
    volume[100:200] = 0.0  # VWAP is undefined there, in both
    bars = ind.OHLCV(bars.open, bars.high, bars.low, bars.close, volume)
    frame = pd.DataFrame(
        {
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": volume,
        }
    )
    p = ind.indicator_params({})
    _assert_same_as_ta(ind.indicators_compute(bars, p), _ta_reference(frame, p), p["atr_window"])


def test_indicator_params_refuse_out_of_range_and_unknown_values_with_clear_messages():
    from xquant.errors import ValidationError

    with pytest.raises(
        ValidationError, match="rsi_window: Ensure this value is greater than or equal to 2"
    ):
        ind.indicator_params({"rsi_window": 1})
    with pytest.raises(
        ValidationError, match=r"macd_fast \(30\) must be smaller than macd_slow \(26\)"
    ):
        ind.indicator_params({"macd_fast": 30})
    with pytest.raises(ValidationError, match="Unknown indicator parameters: rsi_windw"):
        ind.indicator_params({"rsi_windw": 3})


def test_a_gap_inside_the_series_stays_local_as_in_pandas():
    # TA-Lib's kernels would carry a NaN forward for ever; pandas lets it leave the window.
    bars = synthetic_bars(400, seed=5)
    close = bars.close.copy()
    close[200] = nan
    s, high, low = pd.Series(close), pd.Series(bars.high), pd.Series(bars.low)
    roll = s.rolling(20, min_periods=20)
    _, mid, _, width, _ = ind.bollinger(close, 20, 2.0)
    hh, ll = high.rolling(20).max(), low.rolling(20).min()
    got_and_expected = {
        "sma": (ind.sma(close, 20), roll.mean()),
        "std": (width * mid / 400.0, roll.std(ddof=0)),
        "ema": (ind.ema(close, 12), s.ewm(span=12, min_periods=12, adjust=False).mean()),
        "williams_r": (ind.williams_r(bars.high, bars.low, close, 20), -100 * (hh - s) / (hh - ll)),
    }
    for name, (got, expected) in got_and_expected.items():
        expected = expected.to_numpy()
        assert np.array_equal(np.isnan(got), np.isnan(expected)), name
        np.testing.assert_allclose(got, expected, rtol=1e-9, err_msg=name)
    assert np.isfinite(ind.sma(close, 20)[220:]).all()


def test_bollinger_bands_of_a_coin_priced_in_millionths_keep_their_width():
    # TA-Lib's STDDEV reports a variance under 1e-8 as 0; the bands come from its VAR.
    close = synthetic_bars(500, seed=3).close * 1e-7
    upper, mid, lower, _, _ = ind.bollinger(close, 20, 2.0)
    expected = pd.Series(close).rolling(20).std(ddof=0).to_numpy()
    assert (upper[19:] > lower[19:]).all()
    np.testing.assert_allclose((upper - mid) / 2.0, expected, rtol=1e-6)


def test_rsi_of_a_series_that_has_not_moved_yet_is_100_as_in_ta():
    out = ind.rsi(np.array([5.0, 5, 5, 5, 6, 5]), 2)
    reference = ta.momentum.RSIIndicator(pd.Series([5.0, 5, 5, 5, 6, 5]), 2).rsi().to_numpy()
    np.testing.assert_allclose(out, reference)
    assert out[1] == out[2] == out[3] == 100.0
