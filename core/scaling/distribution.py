"""Is the distribution of a metric across seeds bimodal?

Two complementary views of one sample x_1..x_n (one value per seed):

- Hartigan's dip test (Hartigan & Hartigan, 1985, Ann. Statist. 13(1)): the dip is the largest
  distance between the empirical CDF and the closest unimodal CDF; its p-value (from the
  ``diptest`` package's table) tests the null of unimodality. Model-free, but weak for small n.
- A Gaussian mixture with 1 vs 2 components (scikit-learn), compared by
  BIC = -2 log L + k log n (lower is better; k = 2 vs 5 parameters). With the two components'
  means mu_1 < mu_2 and standard deviations s_1, s_2, Ashman's D = sqrt(2) |mu_2 - mu_1| /
  sqrt(s_1^2 + s_2^2) measures separation; D > 2 is the usual threshold for a clean split
  (Ashman, Bird & Zepeda, 1994).

Verdict: bimodal when the dip test rejects unimodality at ``alpha``, or when BIC prefers two
components by more than ``bic_margin`` and they are separated (D > 2) with the smaller holding at
least ``min_weight`` of the runs. Outcomes at a floor or ceiling (exact-match 0 or 1) make the
mixture's variances degenerate: ``reg_covar`` keeps them positive.

Metrics on a lattice (an F1 over a handful of edges, an accuracy over a few items) repeat
values, and both tests read ties as structure: the dip sees steps in the CDF, the mixture puts a
zero-width component on one repeated value. When fewer than half the values are distinct, they
are dequantised first: each moved by a seeded uniform amount within +- half the median gap
between distinct values (as for discrete data in density estimation), which keeps the order
and the modes but not the ties.
"""

from __future__ import annotations

import math

import numpy as np

BIC_MARGIN = 6.0  # "strong" evidence on Kass & Raftery's scale
MIN_WEIGHT = 0.1


def bimodality(
    values, alpha: float = 0.05, bic_margin: float = BIC_MARGIN, min_weight: float = MIN_WEIGHT, seed: int = 0
) -> dict:
    """Dip test, 1- vs 2-component mixture BIC, and the bimodality verdict for one sample."""
    import diptest

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    out = {"n": n, "mean": float(x.mean()) if n else math.nan, "std": float(x.std(ddof=1)) if n > 1 else math.nan}
    empty = {"dip": math.nan, "dip_pvalue": math.nan, "bic_1": math.nan, "bic_2": math.nan}
    if n < 4 or np.ptp(x) == 0:  # too few values, or all equal: nothing to split
        return {
            **out,
            **empty,
            "ashman_d": math.nan,
            "low_mean": math.nan,
            "high_mean": math.nan,
            "high_weight": math.nan,
            "bimodal": False,
        }
    x = dequantized(x, seed)
    dip, p_value = diptest.diptest(x)
    column = x.reshape(-1, 1)
    one = gaussian_mixture(x, 1, seed)
    two = gaussian_mixture(x, 2, seed)
    means = two.means_.ravel()
    sds = np.sqrt(two.covariances_.ravel())
    low, high = np.argsort(means)
    ashman = math.sqrt(2) * abs(means[high] - means[low]) / math.sqrt(sds[low] ** 2 + sds[high] ** 2)
    bic_1, bic_2 = float(one.bic(column)), float(two.bic(column))
    split = bic_2 + bic_margin < bic_1 and ashman > 2 and two.weights_.min() >= min_weight
    return {
        **out,
        "dip": float(dip),
        "dip_pvalue": float(p_value),
        "bic_1": bic_1,
        "bic_2": bic_2,
        "ashman_d": float(ashman),
        "low_mean": float(means[low]),
        "high_mean": float(means[high]),
        "high_weight": float(two.weights_[high]),
        "bimodal": bool(p_value < alpha or split),
    }


def gaussian_mixture(x: np.ndarray, components: int, seed: int = 0):
    """A fitted 1-d Gaussian mixture; ``reg_covar`` scaled to the data keeps floor / ceiling
    components (all values equal) from degenerate variances."""
    from sklearn.mixture import GaussianMixture

    n_init = 5 if components > 1 else 1
    reg = 1e-6 * max(float(np.var(x)), 1e-12)
    return GaussianMixture(components, reg_covar=reg, n_init=n_init, random_state=seed).fit(x.reshape(-1, 1))


def dequantized(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """``x`` with seeded uniform jitter of +- half the median gap between its distinct values,
    when fewer than half of them are distinct; ``x`` itself otherwise."""
    distinct = np.unique(x)
    if len(distinct) >= len(x) / 2 or len(distinct) < 2:
        return x
    gap = float(np.median(np.diff(distinct)))
    return x + np.random.default_rng(seed).uniform(-gap / 2, gap / 2, size=len(x))
