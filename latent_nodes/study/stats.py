"""The statistics of the study's tables: bootstrap confidence intervals and rank tests.

Ten seeds of a training run are too few, and their errors too skewed (a failed seed is ten times a
good one), for a normal-theory interval or a t-test. The percentile bootstrap of the mean makes no
shape assumption, and the Mann-Whitney U test compares two cases by ranks, so a single failed seed
moves it by one rank rather than by its size.

A mean error varies with both the training seed and the test positions it is scored on: another draw
of positions from the same workspace would give another mean. ``two_level_bootstrap_ci`` resamples
both, so its interval covers both sources. A model and a reference predictor scored on the same
positions are compared position by position (``paired_comparison``: the Wilcoxon signed-rank test on
the per-position difference, with effect sizes), and a family of such comparisons is corrected for
their number (``holm``).
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


def two_level_bootstrap_ci(errors: np.ndarray, resamples: int = 10000, confidence: float = 0.95,
                           seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean of ``errors[seed, position]``, resampling seeds AND positions.

    Each resample draws seeds (rows) with replacement and, independently, positions (columns) with
    replacement, and takes the mean of that sub-matrix: the interval then says how the mean would vary
    with another set of training seeds scored on another set of test positions. One row reduces it to
    the bootstrap over positions, one column to the bootstrap over seeds.
    """
    x = np.asarray(errors, dtype=np.float64)
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"two_level_bootstrap_ci needs a non-empty [seeds, positions] matrix, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("two_level_bootstrap_ci needs finite values")
    rng = np.random.default_rng(seed)
    n_s, n_p = x.shape
    means = np.empty(int(resamples))
    for chunk in range(0, int(resamples), 1000):  # bounded memory: 1000 resamples at a time
        k = min(1000, int(resamples) - chunk)
        rows = rng.integers(0, n_s, size=(k, n_s))
        cols = rng.integers(0, n_p, size=(k, n_p))
        # mean over the resampled rows and columns = mean of x[rows][:, :, cols], without building it
        picked = x[rows]                                   # [k, n_s, n_p]
        means[chunk:chunk + k] = np.take_along_axis(picked, cols[:, None, :].repeat(n_s, axis=1), axis=2).mean(
            axis=(1, 2))
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def paired_comparison(model: Sequence[float], reference: Sequence[float]) -> dict[str, float | int] | None:
    """The model against a reference predictor on the same positions (model's error minus the reference's).

    ``model`` is the model's error per position (already averaged over seeds), ``reference`` the
    predictor's on the same positions in the same order. Returns the two-sided Wilcoxon signed-rank
    test's p, and effect sizes: the median difference, the ratio of the mean errors, the matched-pairs
    rank-biserial correlation (r = (W+ - W-) / (W+ + W-): -1 when the model is lower at every position,
    +1 when the reference is) and how many positions each side wins. None when there are fewer than
    two positions or every difference is zero.
    """
    from scipy.stats import rankdata, wilcoxon

    a, b = np.asarray(model, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired_comparison needs two 1-D samples of one length, got {a.shape} and {b.shape}")
    d = a - b
    nonzero = d[d != 0]
    if nonzero.size < 2:
        return None
    ranks = rankdata(np.abs(nonzero))
    w_plus, w_minus = float(ranks[nonzero > 0].sum()), float(ranks[nonzero < 0].sum())
    res = wilcoxon(a, b, alternative="two-sided")
    return {"p": float(res.pvalue), "n": int(a.size), "median_difference": float(np.median(d)),
            "mean_ratio": float(a.mean() / b.mean()) if b.mean() != 0 else float("inf"),
            "rank_biserial": (w_plus - w_minus) / (w_plus + w_minus),
            "model_wins": int((d < 0).sum()), "reference_wins": int((d > 0).sum())}


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given (reject where adjusted p < alpha).

    Controls the family-wise error rate over the comparisons without assuming they are independent:
    the i-th smallest p is multiplied by (m - i), and the adjusted values are made monotone.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        adjusted[idx] = running
    return [float(v) for v in adjusted]
