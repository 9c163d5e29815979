"""Which runs succeeded, how likely success is per setting, and how it moves with scale.

- Success by a threshold on the metric (``value >= threshold``), or by the mixture: the run
  belongs to the higher-mean component of a 2-component Gaussian mixture fitted to all runs.
- P(success) per setting with the Wilson score interval (Wilson, 1927), which stays inside
  [0, 1] and is sensible at 0/n and n/n, unlike the normal approximation.
- A logistic fit of success against log scale on the individual runs,
  P(success | s) = sigmoid(a + b log s), by maximum likelihood (scikit-learn, no penalty);
  the midpoint s* = exp(-a / b) is where P(success) crosses 1/2.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    z = norm.ppf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def success_mask(values, threshold: float | None = None, seed: int = 0) -> np.ndarray:
    """Boolean success per value: ``>= threshold``, or membership of the high mixture component."""
    x = np.asarray(values, dtype=float)
    if threshold is not None:
        return x >= threshold
    from .distribution import gaussian_mixture

    if np.ptp(x) == 0:
        return np.zeros(len(x), dtype=bool)
    mixture = gaussian_mixture(x, 2, seed)
    labels = mixture.predict(x.reshape(-1, 1))
    return labels == int(np.argmax(mixture.means_.ravel()))


def logistic_fit(scales, successes) -> dict:
    """Fit P(success) = sigmoid(a + b log scale) to per-run outcomes; ``a``, ``b`` and the midpoint."""
    from sklearn.linear_model import LogisticRegression

    s = np.log(np.asarray(scales, dtype=float)).reshape(-1, 1)
    y = np.asarray(successes, dtype=bool)
    if y.all() or not y.any():
        return {"intercept": math.nan, "slope": math.nan, "midpoint": math.nan, "degenerate": True}
    model = LogisticRegression(C=np.inf, max_iter=1000).fit(s, y)
    a, b = float(model.intercept_[0]), float(model.coef_[0, 0])
    midpoint = math.exp(-a / b) if b != 0 else math.nan
    return {"intercept": a, "slope": b, "midpoint": midpoint, "degenerate": False}


def logistic_curve(fit: dict, scales) -> np.ndarray:
    s = np.log(np.asarray(scales, dtype=float))
    return 1.0 / (1.0 + np.exp(-(fit["intercept"] + fit["slope"] * s)))
