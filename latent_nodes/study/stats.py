"""The statistics of the study's tables: bootstrap confidence intervals and a rank test.

Ten seeds of a training run are too few, and their errors too skewed (a failed seed is ten times a
good one), for a normal-theory interval or a t-test. The percentile bootstrap of the mean makes no
shape assumption, and the Mann-Whitney U test compares two cases by ranks, so a single failed seed
moves it by one rank rather than by its size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_ci(values: Sequence[float], resamples: int = 10000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, from a seeded generator (same values, same interval).

    One value gives the degenerate interval (v, v): there is nothing to resample.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"bootstrap_ci needs a non-empty 1-D sample, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("bootstrap_ci needs finite values")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(int(resamples), x.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> dict[str, float] | None:
    """Two-sided Mann-Whitney U test of a against b (scipy); None when either sample is empty.

    ``u`` is the statistic of ``a``: the number of pairs in which a's value is the larger (ties count
    one half), so u = 0 means every value of a is below every value of b.
    """
    from scipy.stats import mannwhitneyu

    if len(a) == 0 or len(b) == 0:
        return None
    res = mannwhitneyu(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), alternative="two-sided")
    return {"u": float(res.statistic), "p": float(res.pvalue), "n_a": len(a), "n_b": len(b)}
