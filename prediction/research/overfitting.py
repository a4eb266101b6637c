"""Overfitting statistics of a parameter study.

Deflated Sharpe ratio (Bailey & López de Prado, "The Deflated Sharpe Ratio", 2014): the
probability that the best trial's true Sharpe ratio is above zero, once its estimate is
corrected for the number of trials tried (the best of N lucky draws is high by
construction) and for the skewness and fat tails of its returns.

    SR0 = sqrt(V) * ((1 - g) * Z(1 - 1/N) + g * Z(1 - 1/(N e)))   expected best of N nulls
    DSR = Phi((SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2))

with SR, V (the variance of the trials' Sharpe ratios) per period, not annualised; T
the number of returns; kurt the (non-excess) kurtosis; g Euler-Mascheroni's constant;
Z the standard normal quantile. N = 1 gives SR0 = 0: the probabilistic Sharpe ratio.

Probability of backtest overfitting (Bailey, Borwein, López de Prado & Zhu, "The
probability of backtest overfitting", 2017), by combinatorially symmetric
cross-validation: the T x N matrix of per-period returns (N trials) is cut into S
blocks of rows; for each of the C(S, S/2) ways of taking half the blocks as in-sample,
the trial best in-sample is ranked out of sample (on the other half); its relative rank
w = rank / (N + 1) gives the logit log(w / (1 - w)). PBO is the share of splits whose
logit is <= 0: the in-sample winner did no better than the median out of sample.
"""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist
from typing import Any

import numpy as np

EULER_GAMMA = 0.5772156649015329
_N = NormalDist()


def sharpe(returns: np.ndarray) -> float:
    """Per-period Sharpe ratio (mean / sample std), NaN without dispersion."""
    r = np.asarray(returns, dtype=float)
    if len(r) < 2:
        return math.nan
    sd = r.std(ddof=1)
    return float(r.mean() / sd) if sd > 0 else math.nan


def moments(returns: np.ndarray) -> tuple[float, float]:
    """(skewness, non-excess kurtosis), population moments as in the paper."""
    r = np.asarray(returns, dtype=float)
    m = r.mean()
    sd = r.std()
    if sd == 0:
        return 0.0, 3.0
    z = (r - m) / sd
    return float((z**3).mean()), float((z**4).mean())


def expected_max_sharpe(*, trials: int, variance: float) -> float:
    """SR0: the expected highest Sharpe ratio among `trials` draws with true Sharpe 0."""
    if trials <= 1 or variance <= 0:
        return 0.0
    return math.sqrt(variance) * (
        (1 - EULER_GAMMA) * _N.inv_cdf(1 - 1 / trials)
        + EULER_GAMMA * _N.inv_cdf(1 - 1 / (trials * math.e))
    )


def probabilistic_sharpe(
    *, sr: float, benchmark: float, observations: int, skew: float, kurtosis: float
) -> float:
    """P(true Sharpe > benchmark) given the estimate `sr` from `observations` returns."""
    denom = 1 - skew * sr + (kurtosis - 1) / 4 * sr**2
    if observations < 2 or denom <= 0:
        return math.nan
    return _N.cdf((sr - benchmark) * math.sqrt(observations - 1) / math.sqrt(denom))


def deflated_sharpe(
    *,
    sr: float,
    observations: int,
    skew: float,
    kurtosis: float,
    trials: int,
    sr_variance: float,
) -> dict[str, float]:
    sr0 = expected_max_sharpe(trials=trials, variance=sr_variance)
    return {
        "sharpe": sr,
        "expected_max_sharpe": sr0,
        "deflated_sharpe": probabilistic_sharpe(
            sr=sr, benchmark=sr0, observations=observations, skew=skew, kurtosis=kurtosis
        ),
        "trials": trials,
        "observations": observations,
        "skew": skew,
        "kurtosis": kurtosis,
        "sr_variance": sr_variance,
    }


def deflated_sharpe_of_best(returns: np.ndarray) -> dict[str, float]:
    """DSR of the best (highest per-period Sharpe) column of a T x N returns matrix,
    with N the number of columns and V the variance of their Sharpe ratios."""
    m = np.asarray(returns, dtype=float)
    srs = np.array([sharpe(m[:, j]) for j in range(m.shape[1])])
    ok = np.isfinite(srs)
    if not ok.any():
        return {"deflated_sharpe": math.nan, "trials": int(m.shape[1])}
    best = int(np.nanargmax(srs))
    skew, kurt = moments(m[:, best])
    out = deflated_sharpe(
        sr=float(srs[best]),
        observations=m.shape[0],
        skew=skew,
        kurtosis=kurt,
        trials=int(m.shape[1]),
        sr_variance=float(np.var(srs[ok], ddof=1)) if ok.sum() > 1 else 0.0,
    )
    out["best_column"] = best
    return out


def _performance(block: np.ndarray, metric: str) -> np.ndarray:
    if metric == "mean":
        return block.mean(axis=0)
    sd = block.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        perf = np.where(sd > 0, block.mean(axis=0) / sd, 0.0)
    return perf


def pbo_cscv(returns: np.ndarray, *, blocks: int = 8, metric: str = "sharpe") -> dict[str, Any]:
    """PBO of a T x N matrix of per-period returns (N >= 2 trials), S = `blocks` (even).

    Rows beyond a multiple of S are dropped from the start (the oldest). Ties in the
    out-of-sample ranking take the lowest rank (a tie with the worst is no comfort)."""
    m = np.asarray(returns, dtype=float)
    t, n = m.shape
    if n < 2:
        raise ValueError("PBO needs at least two trials.")
    if blocks < 2 or blocks % 2:
        raise ValueError("blocks must be an even number of at least 2.")
    if t < blocks:
        raise ValueError(f"{t} periods cannot be cut into {blocks} blocks.")
    size = t // blocks
    m = m[t - size * blocks :]
    parts = [m[k * size : (k + 1) * size] for k in range(blocks)]
    logits = []
    for ins in itertools.combinations(range(blocks), blocks // 2):
        outs = [k for k in range(blocks) if k not in ins]
        perf_is = _performance(np.vstack([parts[k] for k in ins]), metric)
        perf_oos = _performance(np.vstack([parts[k] for k in outs]), metric)
        best = int(np.argmax(perf_is))
        # rank 1 = worst out of sample, n = best.
        rank = int((perf_oos < perf_oos[best]).sum()) + 1
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
    arr = np.array(logits)
    return {
        "pbo": float((arr <= 0).mean()),
        "splits": len(logits),
        "blocks": blocks,
        "trials": n,
        "periods": size * blocks,
        "logits": [round(x, 6) for x in logits],
    }


def dsr_sentence(dsr: float | None, trials: int) -> str:
    if dsr is None or not math.isfinite(dsr):
        return "The deflated Sharpe ratio could not be computed (too few returns or trials)."
    verdict = (
        "likely a real edge"
        if dsr >= 0.95
        else "not distinguishable from the luck of trying many settings"
        if dsr < 0.5
        else "suggestive but not conclusive"
    )
    return (
        f"After accounting for {trials} trials and the shape of its returns, the best "
        f"trial's Sharpe ratio has a {dsr:.0%} chance of being above zero: {verdict}."
    )


def pbo_sentence(pbo: float | None) -> str:
    if pbo is None or not math.isfinite(pbo):
        return "The probability of backtest overfitting could not be computed."
    verdict = (
        "the selection looks overfit"
        if pbo >= 0.5
        else "the selection holds up reasonably out of sample"
        if pbo <= 0.2
        else "treat the selection with caution"
    )
    return (
        f"In {pbo:.0%} of the in-sample/out-of-sample splits the best in-sample parameters "
        f"did no better than the median out of sample: {verdict}."
    )
