"""The sparse translation plan P between target tokens (rows) and source tokens (columns).

P is a sparse transport plan: row t is a probability distribution over the source tokens that
target token t is made of, and column s carries a prescribed total mass b_s. It is the
quadratically regularised optimal transport plan (Blondel, Seguy & Rolet, 2018) for the learnable
scores W (the negative cost, with the regularisation strength absorbed into W's scale)::

    P = argmax_{P >= 0, P 1 = 1, P^T 1 = b}  <W, P> - ||P||^2 / 2
      = [W_ts - tau_t - sigma_s]_+        (the KKT conditions; tau, sigma the dual variables)

computed, like Sinkhorn's algorithm for entropic OT, by exact block-coordinate ascent on the two
dual variables, alternating rows and columns::

    tau_t    <- the threshold with  sum_s [W_ts - sigma_s - tau_t]_+ = 1      (a sparsemax of row t)
    sigma_s  <- the threshold with  sum_t [W_ts - tau_t - sigma_s]_+ = b_s    (a sparsemax of column s
                                                                                scaled to mass b_s)

starting from sigma = 0, for ``iterations`` rounds, and a final row update, so that every row is
exactly a distribution (to rounding) and the column masses hold up to the remaining dual error,
which falls geometrically with the iterations. Each threshold is a sparsemax's (Martins &
Astudillo, 2016): entries below it are exactly zero, so P is sparse at every iteration, unlike
entropic Sinkhorn's dense plan and unlike alternating primal projections (POCS), whose column
steps lift zeros back up. The iterations are unrolled and differentiated by autograd (the
threshold is piecewise linear in W). With enough iterations P equals POT's exact solver
``ot.smooth.smooth_ot_dual(1, b, -W, 1, reg_type="l2")`` (checked in the tests).

Column masses b: by default proportional to each source token's frequency on the target corpus
(scaled so that sum_s b_s = number of target tokens = total row mass), so that frequent source
tokens may serve several target tokens; ``uniform`` gives every source token the same mass.

References: Martins & Astudillo, "From Softmax to Sparsemax" (ICML 2016); Blondel, Seguy &
Rolet, "Smooth and Sparse Optimal Transport" (AISTATS 2018); Feng et al., "Sparse Sinkhorn
Token Translation" (S2T2, 2024).
"""

from __future__ import annotations

import torch
from torch import nn


def simplex_threshold(x: torch.Tensor, mass: float | torch.Tensor, dim: int) -> torch.Tensor:
    """The threshold t (keepdim along ``dim``) with sum_dim [x - t]_+ = mass.

    [x - t]_+ is then the Euclidean projection of x onto the simplex of total ``mass`` (sparsemax
    for mass 1). Sorting x descending as z, the support is the k largest entries with
    k z_k > sum_{j<=k} z_j - mass, and t = (sum_{j<=k} z_j - mass) / k (Held et al. 1974;
    Martins & Astudillo 2016, Alg. 1).
    """
    z, _ = x.sort(dim=dim, descending=True)
    cumulative = z.cumsum(dim) - mass
    shape = [1] * x.ndim
    shape[dim] = -1
    rank = torch.arange(1, x.shape[dim] + 1, dtype=x.dtype, device=x.device).reshape(shape)
    support = (z * rank > cumulative).sum(dim, keepdim=True)
    return cumulative.gather(dim, support - 1) / support


def sparse_plan(scores: torch.Tensor, column_mass: torch.Tensor, iterations: int = 10) -> torch.Tensor:
    """The plan from ``scores`` [targets, sources]: dual block-coordinate ascent, rows last."""
    if scores.ndim != 2 or column_mass.shape != (scores.shape[1],):
        raise ValueError(
            f"scores must be [targets, sources] and column_mass [sources]; got {tuple(scores.shape)}, "
            f"{tuple(column_mass.shape)}"
        )
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, got {iterations}")
    sigma = scores.new_zeros(1, scores.shape[1])
    for _ in range(iterations):
        tau = simplex_threshold(scores - sigma, 1.0, dim=1)
        sigma = simplex_threshold(scores - tau, column_mass.unsqueeze(0), dim=0)
    tau = simplex_threshold(scores - sigma, 1.0, dim=1)
    return torch.relu(scores - tau - sigma)


def column_masses(source_counts: torch.Tensor, targets: int, kind: str = "frequency") -> torch.Tensor:
    """b_s for ``targets`` rows of mass 1: proportional to ``source_counts``, or uniform."""
    if kind == "uniform":
        weights = torch.ones_like(source_counts, dtype=torch.float32)
    elif kind == "frequency":
        weights = source_counts.float()
    else:
        raise ValueError(f"unknown column marginal {kind!r}; choose frequency or uniform")
    if (weights <= 0).any():
        raise ValueError("every source token needs a positive count (restrict to tokens that occur)")
    return targets * weights / weights.sum()


class SparsePlan(nn.Module):
    """Learnable scores W and the fixed column masses; calling it returns P (dense, mostly zeros).

    W starts at 1 / sources, the uniform plan, plus seeded noise of relative size ``noise`` that
    breaks the ties; the scale of W matters (sparsemax is not scale-invariant): entries that
    fall below a row's threshold by more than the row's spread are zero.
    """

    def __init__(
        self, targets: int, column_mass: torch.Tensor, iterations: int = 10, noise: float = 0.1, seed: int = 0
    ):
        super().__init__()
        sources = column_mass.shape[0]
        generator = torch.Generator().manual_seed(seed)
        init = (1.0 + noise * torch.randn(targets, sources, generator=generator)) / sources
        self.scores = nn.Parameter(init)
        self.register_buffer("column_mass", column_mass.float())
        self.iterations = iterations

    def forward(self) -> torch.Tensor:
        return sparse_plan(self.scores, self.column_mass, self.iterations)


def nonzeros_per_row(plan: torch.Tensor) -> torch.Tensor:
    """The number of source tokens each target token uses."""
    return (plan > 0).sum(dim=1)
