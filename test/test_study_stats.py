"""The study's statistics on cases with a known answer: two-level bootstrap, paired test, Holm correction."""

import numpy as np
import pytest

from latent_nodes.study.stats import bootstrap_ci, holm, paired_comparison, two_level_bootstrap_ci


def additive(n_seeds: int, n_positions: int, seed_sd: float, position_sd: float, rng_seed: int = 3) -> tuple:
    """errors[s, p] = 1 + a_s + b_p: a seed effect plus a position effect, as a study's error matrix has."""
    rng = np.random.default_rng(rng_seed)
    a, b = rng.normal(0, seed_sd, n_seeds), rng.normal(0, position_sd, n_positions)
    return 1.0 + a[:, None] + b[None, :], a, b


def test_two_level_interval_has_the_width_both_sources_give():
    # The bootstrap mean of an additive matrix has variance var(a)/n_s + var(b)/n_p (population variances),
    # so the 95 % interval's width is 2 * 1.96 * sqrt of that, to within the percentile interval's noise.
    x, a, b = additive(10, 16, seed_sd=0.3, position_sd=0.5)
    lo, hi = two_level_bootstrap_ci(x, resamples=20000)
    sd = np.sqrt(a.var() / a.size + b.var() / b.size)
    assert hi - lo == pytest.approx(2 * 1.96 * sd, rel=0.05)
    assert lo < x.mean() < hi


def test_seed_bootstrap_misses_the_spread_of_test_positions():
    # Identical seeds: resampling seeds alone gives a point, resampling positions too gives the positions' spread.
    x, _, b = additive(10, 16, seed_sd=0.0, position_sd=0.5)
    seed_lo, seed_hi = bootstrap_ci(x.mean(axis=1))
    lo, hi = two_level_bootstrap_ci(x, resamples=20000)
    assert seed_hi - seed_lo == pytest.approx(0.0, abs=1e-12)
    assert hi - lo == pytest.approx(2 * 1.96 * b.std() / np.sqrt(b.size), rel=0.05)


def test_two_level_bootstrap_is_seeded_and_refuses_bad_input():
    x, _, _ = additive(4, 5, 0.1, 0.1)
    assert two_level_bootstrap_ci(x, seed=7) == two_level_bootstrap_ci(x, seed=7)
    with pytest.raises(ValueError, match="matrix"):
        two_level_bootstrap_ci(np.ones(5))
    with pytest.raises(ValueError, match="finite"):
        two_level_bootstrap_ci(np.array([[1.0, np.nan]]))


def test_paired_comparison_of_a_uniformly_lower_model():
    # Lower at each of 8 positions: every rank is negative, the exact two-sided p is 2 / 2^8.
    reference = np.linspace(1.0, 2.0, 8)
    out = paired_comparison(reference - 0.1 * np.arange(1, 9), reference)
    assert out["p"] == pytest.approx(2 / 2 ** 8)
    assert out["rank_biserial"] == -1.0
    assert (out["model_wins"], out["reference_wins"]) == (8, 0)
    assert out["median_difference"] == pytest.approx(-0.45)
    assert out["mean_ratio"] == pytest.approx((reference.mean() - 0.45) / reference.mean())


def test_paired_comparison_with_mixed_signs():
    # Differences -1, -2, +3, -4 rank 1, 2, 3, 4: W+ = 3, W- = 7, r = (3 - 7) / 10.
    out = paired_comparison([0.0, 0.0, 3.0, 0.0], [1.0, 2.0, 0.0, 4.0])
    assert out["rank_biserial"] == pytest.approx(-0.4)
    assert (out["model_wins"], out["reference_wins"]) == (3, 1)
    assert paired_comparison([1.0, 2.0], [1.0, 2.0]) is None  # no difference to test


def test_holm_adjusts_by_rank_and_stays_monotone():
    # Sorted p 0.01, 0.03, 0.04, 0.5 get x4, x3, x2, x1: 0.04, 0.09, 0.08 -> 0.09 (monotone), 0.5.
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.6, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
