"""The paired tests the studies call a win or a tie with.

- :func:`paired_test`: two arms measured on the same units (seeds, graphs, passages); the mean
  difference and the Wilcoxon signed-rank test of the differences (Wilcoxon, 1945). A difference
  with p >= 0.05 is a tie, whatever its sign.
- :func:`mcnemar_exact`: two binary outcomes on the same problems; the exact McNemar test, a
  binomial test of the discordant pairs at 1/2 (McNemar, 1947).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALPHA = 0.05


def paired_test(mine: pd.Series, rival: pd.Series) -> tuple[float, float, str]:
    """Mean of ``mine - rival`` over the units both have, the Wilcoxon signed-rank p-value, and
    "win" / "loss" (the sign of the mean) at p < :data:`ALPHA`, else "tie"."""
    from scipy.stats import wilcoxon

    diff = (mine - rival).dropna()
    if len(diff) == 0 or np.allclose(diff, 0):
        return 0.0, 1.0, "tie"
    p = float(wilcoxon(diff).pvalue)
    verdict = "tie" if p >= ALPHA else ("win" if diff.mean() > 0 else "loss")
    return float(diff.mean()), p, verdict


def mcnemar_exact(first, second) -> tuple[int, int, float]:
    """Problems only ``first`` solved, only ``second`` solved (0/1 arrays over the same problems),
    and the exact two-sided McNemar p-value."""
    from scipy.stats import binomtest

    first, second = np.asarray(first), np.asarray(second)
    only_first = int(((first == 1) & (second == 0)).sum())
    only_second = int(((first == 0) & (second == 1)).sum())
    discordant = only_first + only_second
    p = float(binomtest(only_first, discordant, 0.5).pvalue) if discordant else 1.0
    return only_first, only_second, p
