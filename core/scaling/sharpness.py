"""How sudden is a curve? BIG-bench's breakthroughness and linearity.

For scores y_1..y_m at increasing scale (Srivastava et al., 2022, "Beyond the Imitation Game",
section 3.4 and appendix), with steps d_i = y_{i+1} - y_i and the overall improvement

    I(y) = sign(argmax_i y_i - argmin_i y_i) * (max_i y_i - min_i y_i),

    linearity        L(y) = I(y) / sqrt(sum_i d_i^2)          (root-sum-square)
    breakthroughness B(y) = I(y) / sqrt(median_i d_i^2)       (root-median-square)

A straight line of m - 1 equal steps has L = B = sqrt(m - 1) and m - 1; one jump and flat
elsewhere has L = 1 and B large (the median step is ~0): high B with low L means "sudden".
``eps`` keeps B finite for a single clean jump.
"""

from __future__ import annotations

import numpy as np


def _improvement(y: np.ndarray) -> float:
    return float(np.sign(np.argmax(y) - np.argmin(y)) * (y.max() - y.min()))


def linearity(y) -> float:
    y = np.asarray(y, dtype=float)
    steps = np.diff(y)
    norm = float(np.sqrt(np.sum(steps**2)))
    return _improvement(y) / norm if norm > 0 else 0.0


def breakthroughness(y, eps: float = 1e-3) -> float:
    y = np.asarray(y, dtype=float)
    if len(y) < 2:
        return 0.0
    steps = np.diff(y)
    return _improvement(y) / float(np.sqrt(np.median(steps**2)) + eps)
