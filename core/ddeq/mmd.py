"""Discrepancies between point clouds: kernel MMD (energy distance or Gaussian) and Chamfer distance.

Clouds are batched and padded: ``x`` of shape (B, n, p) with a boolean ``mask`` (B, n), True where a
point is real. Every cloud is the uniform measure over its real points.

For measures a = (1/n) sum_i delta_{x_i} and b = (1/m) sum_j delta_{y_j} and a kernel k,

    MMD^2(a, b) = E k(x, x') + E k(y, y') - 2 E k(x, y)

(Gretton et al., 2012, "A kernel two-sample test", JMLR 13). With the energy-distance (Riesz)
kernel k(x, y) = -||x - y|| this is the energy distance (Szekely & Rizzo, 2013), which is zero only
when a = b. Here the norm is smoothed, k(x, y) = -sqrt(||x - y||^2 + eps^2) with eps = ``bandwidth``
(the multiquadric kernel, still conditionally positive definite, so MMD stays a metric): its gradient
exists where particles meet, and a gradient flow on it converges linearly once particles are within
eps of their targets, where the exact Riesz kernel's unit-length gradients make a fixed-step flow
oscillate (measured in docs/ddeq.md). ``bandwidth`` -> 0 recovers the energy distance. The Gaussian
kernel exp(-||x - y||^2 / (2 h^2)) takes h = ``bandwidth``.
"""

from __future__ import annotations

import torch

KERNELS = ("energy", "gaussian")
EXACT = 1e-6  # eps for the (numerically) exact energy distance


def _weights(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Uniform weights over each cloud's real points, (B, n)."""
    if mask is None:
        return torch.full(x.shape[:2], 1.0 / x.shape[1], dtype=x.dtype, device=x.device)
    weights = mask.to(x.dtype)
    counts = weights.sum(1, keepdim=True)
    if (counts == 0).any():
        raise ValueError("a point cloud has no real points (its mask is all False)")
    return weights / counts


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """||x_i - y_j||^2, (B, n, p), (B, m, p) -> (B, n, m), as |x|^2 + |y|^2 - 2 x.y: matrix products, no
    (B, n, m, p) differences, and a gradient that exists at x = y (unlike ``torch.cdist``'s)."""
    inner = x @ y.transpose(1, 2)
    return (x.pow(2).sum(-1, keepdim=True) + y.pow(2).sum(-1).unsqueeze(1) - 2 * inner).clamp_min(0.0)


def kernel_matrix(
    x: torch.Tensor, y: torch.Tensor, kernel: str = "energy", bandwidth: float | None = None
) -> torch.Tensor:
    """k(x_i, y_j) for batched clouds: (B, n, p), (B, m, p) -> (B, n, m).

    ``bandwidth`` None: the exact energy distance's kernel, or h = 1 for the Gaussian.
    """
    if bandwidth is None:
        bandwidth = EXACT if kernel == "energy" else 1.0
    squared = squared_distances(x, y)
    if kernel == "energy":
        return -(squared + bandwidth**2).sqrt()
    if kernel == "gaussian":
        return torch.exp(-squared / (2 * bandwidth**2))
    raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")


def gradient_weights(x: torch.Tensor, y: torch.Tensor, kernel: str, bandwidth: float) -> torch.Tensor:
    """W (B, n, m) with grad_x k(x_i, y_j) = -W_ij (x_i - y_j), for both kernels (radial):

    energy: W = 1 / sqrt(||x - y||^2 + eps^2); gaussian: W = k(x, y) / h^2.
    """
    squared = squared_distances(x, y)
    if kernel == "energy":
        return (squared + bandwidth**2).rsqrt()
    if kernel == "gaussian":
        return torch.exp(-squared / (2 * bandwidth**2)) / bandwidth**2
    raise ValueError(f"unknown kernel {kernel!r}; choose one of {KERNELS}")


def mmd_velocity(z: torch.Tensor, target: torch.Tensor, kernel: str = "energy", bandwidth: float = 1.0) -> torch.Tensor:
    """The Wasserstein gradient of 1/2 MMD^2(., target) at each particle of the uniform measure Z.

    With a = 1/m on Z's particles and b = 1/m' on the target's, the first variation of
    1/2 MMD^2(mu, nu) at mu is E_{z'~mu} k(., z') - E_{t~nu} k(., t), so particle i moves along minus

        v_i = (1/m) sum_j grad_1 k(z_i, z_j) - (1/m') sum_j grad_1 k(z_i, t_j)

    which is m times the gradient of 1/2 MMD^2 with respect to z_i. With grad_1 k(z_i, y_j) =
    -W_ij (z_i - y_j) (:func:`gradient_weights`), a mean over j is -(z_i sum_j W_ij - (W y)_i) / m':
    only (B, m, m') matrices, no (B, m, m', d) differences. Closed form (no nested autograd),
    differentiable in z and target. Shapes (B, m, d), (B, m', d) -> (B, m, d).
    """

    def mean_gradient(y):
        weights = gradient_weights(z, y, kernel, bandwidth)
        return -(z * weights.sum(-1, keepdim=True) - weights @ y) / y.shape[1]

    return mean_gradient(z) - mean_gradient(target)


def mmd2(
    x: torch.Tensor,
    y: torch.Tensor,
    x_mask: torch.Tensor | None = None,
    y_mask: torch.Tensor | None = None,
    kernel: str = "energy",
    bandwidth: float | None = None,
) -> torch.Tensor:
    """Squared MMD between each pair of clouds, shape (B,). Differentiable in x and y."""
    a, b = _weights(x, x_mask), _weights(y, y_mask)

    def expectation(u, wu, v, wv):
        return torch.einsum("bi,bij,bj->b", wu, kernel_matrix(u, v, kernel, bandwidth), wv)

    value = expectation(x, a, x, a) + expectation(y, b, y, b) - 2 * expectation(x, a, y, b)
    return value.clamp_min(0.0)  # rounding can make an exact zero slightly negative


def chamfer(
    x: torch.Tensor, y: torch.Tensor, x_mask: torch.Tensor | None = None, y_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Symmetric Chamfer distance, (B,): mean over x of the distance to the nearest y, plus the converse.

    Unlike MMD it ignores how mass is spread: a cloud that covers the target's support scores well
    however unevenly its points are placed.
    """
    distance = torch.cdist(x, y)
    big = torch.finfo(x.dtype).max
    if y_mask is not None:
        distance = distance.masked_fill(~y_mask.unsqueeze(1), big)
    x_to_y = distance.min(2).values
    if x_mask is not None:
        distance = distance.masked_fill(~x_mask.unsqueeze(2), big)
    y_to_x = distance.min(1).values
    return (_weights(x, x_mask) * x_to_y).sum(1) + (_weights(y, y_mask) * y_to_x).sum(1)
