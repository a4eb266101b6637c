"""Deflated Sharpe ratio and PBO on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prediction.research.overfitting import (
    deflated_sharpe,
    deflated_sharpe_of_best,
    dsr_sentence,
    expected_max_sharpe,
    pbo_cscv,
    pbo_sentence,
)


def test_deflated_sharpe_reproduces_the_papers_worked_example():
    # Bailey & López de Prado (2014), section 4: an annualised Sharpe of 2.5 over 5 years
    # of daily returns (T = 1250), 100 trials whose annualised Sharpe ratios vary by 0.5,
    # skewness -3, kurtosis 10: SR0 = 0.1132 per day and DSR = 0.9004.
    out = deflated_sharpe(
        sr=2.5 / math.sqrt(250),
        observations=1250,
        skew=-3.0,
        kurtosis=10.0,
        trials=100,
        sr_variance=0.5 / 250,
    )
    assert out["expected_max_sharpe"] == pytest.approx(0.1132, abs=5e-5)
    assert out["deflated_sharpe"] == pytest.approx(0.9004, abs=5e-5)


def test_one_trial_is_the_probabilistic_sharpe_ratio_against_zero():
    # N = 1: SR0 = 0; normal returns (skew 0, kurtosis 3), SR 0.1 over T = 101:
    # Phi(0.1 * 10 / sqrt(1 + 2/4 * 0.01)) = Phi(0.99751) = 0.84073.
    out = deflated_sharpe(
        sr=0.1, observations=101, skew=0.0, kurtosis=3.0, trials=1, sr_variance=0.04
    )
    assert out["expected_max_sharpe"] == 0.0
    assert out["deflated_sharpe"] == pytest.approx(0.84073, abs=5e-5)


def test_expected_best_of_many_nulls_grows_with_the_number_of_trials():
    # sqrt(V) * ((1 - g) Z(1 - 1/N) + g Z(1 - 1/(N e))), V = 1, N = 10:
    # 0.422784 * Z(0.9) + 0.577216 * Z(0.963212) = 0.422784 * 1.281552 + 0.577216 * 1.789127.
    assert expected_max_sharpe(trials=10, variance=1.0) == pytest.approx(1.5746, abs=1e-4)
    assert expected_max_sharpe(trials=1000, variance=1.0) > expected_max_sharpe(
        trials=10, variance=1.0
    )


def test_the_same_best_sharpe_deflates_more_among_more_trials():
    common = {"sr": 0.08, "observations": 500, "skew": 0.0, "kurtosis": 3.0, "sr_variance": 0.001}
    few = deflated_sharpe(trials=4, **common)["deflated_sharpe"]
    many = deflated_sharpe(trials=400, **common)["deflated_sharpe"]
    assert many < few


def test_deflated_sharpe_of_best_picks_the_best_column_and_uses_the_column_count():
    rng = np.random.default_rng(0)
    m = rng.normal(0, 0.01, (500, 6))
    m[:, 4] += 0.002
    out = deflated_sharpe_of_best(m)
    assert out["best_column"] == 4
    assert out["trials"] == 6 and out["observations"] == 500
    srs = m.mean(axis=0) / m.std(axis=0, ddof=1)
    assert out["sharpe"] == pytest.approx(srs[4])
    assert out["sr_variance"] == pytest.approx(np.var(srs, ddof=1))


def test_pbo_is_zero_when_one_trial_wins_everywhere():
    rng = np.random.default_rng(1)
    m = rng.normal(0, 0.01, (64, 5))
    m[:, 2] += 0.05  # far ahead in every period
    out = pbo_cscv(m, blocks=8)
    assert out["splits"] == 70  # C(8, 4)
    assert out["pbo"] == 0.0


def test_pbo_is_one_when_the_in_sample_winner_always_loses_out_of_sample():
    # Two trials, two blocks: A wins the first half and loses the second, B the reverse.
    m = np.array([[0.02, -0.02], [0.01, -0.01], [-0.02, 0.02], [-0.01, 0.01]])
    out = pbo_cscv(m, blocks=2, metric="mean")
    assert out["splits"] == 2
    assert out["pbo"] == 1.0


def test_pbo_hand_computed_on_four_trials_and_four_blocks():
    # One row per block, metric = mean. Columns A, B, C, D:
    #   A = [6, 0, 0, 0]  B = [2, 2, 2, 2]  C = [0, 0, 0, 1]  D = [0, 0, 0, 0]
    # In-sample {0,1}, {0,2}, {0,3}: A is best (3 vs 2), out of sample A scores 0, the
    # lowest (rank 1 of 4, w = 1/5, logit ln(1/4) < 0). In-sample {1,2}, {1,3}, {2,3}:
    # B is best, out of sample B (2) beats C and D but not A (3): rank 3, w = 3/5, logit
    # ln(3/2) > 0. So 3 of 6 splits are overfit: PBO = 0.5.
    m = np.array([[6, 2, 0, 0], [0, 2, 0, 0], [0, 2, 0, 0], [0, 2, 1, 0]], dtype=float)
    out = pbo_cscv(m, blocks=4, metric="mean")
    assert out["splits"] == 6
    assert out["pbo"] == 0.5
    assert sorted(out["logits"]) == pytest.approx(
        [math.log(1 / 4)] * 3 + [math.log(3 / 2)] * 3, abs=1e-6
    )


def test_pbo_refuses_what_it_cannot_compute():
    with pytest.raises(ValueError, match="at least two trials"):
        pbo_cscv(np.zeros((16, 1)))
    with pytest.raises(ValueError, match="even"):
        pbo_cscv(np.zeros((16, 3)), blocks=3)


def test_readings_are_one_plain_sentence():
    assert dsr_sentence(0.97, 200).endswith("likely a real edge.")
    assert "200 trials" in dsr_sentence(0.3, 200)
    assert pbo_sentence(0.6).startswith("In 60% of the in-sample/out-of-sample splits")
    assert pbo_sentence(0.6).endswith("the selection looks overfit.")
