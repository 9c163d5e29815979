"""DDEQ and its baselines for point clouds: the equilibrium model, a weight-tied unroll, PointNet.

Clouds come padded: points (B, n, p) and a mask (B, n), True for real points.

DDEQ (Geuter et al., 2025). The input cloud is encoded once, point-wise then by self-attention over
its points (the injection H, invariant in X's order). The layer f maps a latent measure of m
particles Z (B, m, d) to another:

    Z <- LN(Z + SelfAttention(Z))        particles see each other
    Z <- LN(Z + CrossAttention(Z -> H))   particles read the input (padding masked)
    Z <- LN(Z + MLP(Z))

No positions enter anywhere, so f is equivariant in Z's order and invariant in X's. The forward pass
runs the MMD particle flow (:mod:`.flow`) to Z* with f(Z*; X) = Z* as measures, from m particles
drawn once from a seeded standard Gaussian and shared by every cloud (so a cloud's prediction never
depends on its place in a batch or on the other clouds in it), for at most ``max_steps`` steps in
training and evaluation alike; the backward pass is torchdeq's (phantom gradient or implicit
differentiation, ``backward``). Heads: classification = max-pool over particles + linear;
completion = a point-wise linear map of each particle to a point.

:class:`Unrolled` applies the same f K times (Z_{k+1} = f(Z_k; X), weight-tied, backpropagated
through every step): the explicit ablation. :class:`PointNet` (Qi et al., 2017, without the
transform nets): a point-wise MLP, max-pool over real points, an MLP head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torchdeq import get_deq

from .flow import SOLVER, MMDFlowStep
from .mmd import mmd2


@dataclass(frozen=True)
class DDEQConfig:
    point_dim: int = 2  # p: coordinates per input point
    n_outputs: int = 10  # classes, or output point dimension for completion
    head: str = "classify"  # classify | points
    d_model: int = 64  # particle dimension d
    n_particles: int = 10  # m
    n_heads: int = 4
    kernel: str = "energy"  # energy (smoothed norm) | gaussian
    bandwidth: float = 3.0  # energy: the norm's smoothing eps; gaussian: h
    flow_lr: float = 3.0  # particle step size
    flow_decay: float = 0.0  # step k moves by flow_lr / (1 + flow_decay * k)
    max_steps: int = 30  # step cap of the flow, in training and in evaluation
    tol: float = 1e-3  # stop when MMD^2(Z, f(Z)) / MMD^2(Z_0, f(Z_0)) < tol for every cloud
    backward: str = "phantom"  # phantom | implicit
    phantom_steps: int = 5  # differentiable steps of the step map at Z* (phantom gradient)
    phantom_damping: float = 0.5
    residual_scale: float = 1.0  # initial gain of f's residual branches
    unroll_steps: int = 0  # > 0: the weight-tied explicit ablation with this many applications of f

    def __post_init__(self):
        if self.head not in ("classify", "points"):
            raise ValueError(f"head must be classify or points, got {self.head!r}")
        if self.backward not in ("phantom", "implicit"):
            raise ValueError(f"backward must be phantom or implicit, got {self.backward!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")
        if self.n_particles < 1 or self.max_steps < 1 or self.flow_lr <= 0 or self.flow_decay < 0:
            raise ValueError(f"invalid DDEQ config {self}")


class PointEncoder(nn.Module):
    """X -> H: point-wise MLP then one self-attention block over the real points."""

    def __init__(self, point_dim: int, d_model: int, n_heads: int):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(point_dim, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.attention = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.embed(points)
        h = self.norm1(h + self.attention(h, h, h, key_padding_mask=~mask, need_weights=False)[0])
        return self.norm2(h + self.mlp(h))


class EquilibriumLayer(nn.Module):
    """f(Z; H): self-attention over particles, cross-attention particles -> input, MLP; residual + norm."""

    def __init__(self, d_model: int, n_heads: int, residual_scale: float = 1.0):
        super().__init__()
        self.self_attention = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.cross_attention = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(3))
        # Learned per-channel gains on the three branches (LayerScale, Touvron et al., 2021).
        self.gains = nn.Parameter(torch.full((3, d_model), residual_scale))

    def forward(self, z: torch.Tensor, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        z = self.norms[0](z + self.gains[0] * self.self_attention(z, z, z, need_weights=False)[0])
        attended = self.cross_attention(z, h, h, key_padding_mask=~mask, need_weights=False)[0]
        z = self.norms[1](z + self.gains[1] * attended)
        return self.norms[2](z + self.gains[2] * self.mlp(z))


class DDEQ(nn.Module):
    """The distributional DEQ (or, with ``unroll_steps`` > 0, its weight-tied unrolled ablation).

    ``forward(points, mask)`` returns the head's output: logits (B, classes) or points (B, m, p).
    After each call ``last_stats`` holds the flow's per-cloud statistics (relative residual, steps,
    residual trace); ``particles(points, mask)`` returns Z* itself.
    """

    def __init__(self, config: DDEQConfig):
        super().__init__()
        self.config = config
        self.encoder = PointEncoder(config.point_dim, config.d_model, config.n_heads)
        self.layer = EquilibriumLayer(config.d_model, config.n_heads, config.residual_scale)
        self.head = nn.Linear(config.d_model, config.n_outputs)
        self.init_seed = 0  # the initial particles are drawn from this seed; runs set it to their own seed
        self.last_stats: dict[str, torch.Tensor] = {}
        phantom = config.backward == "phantom"
        self.deq = get_deq(
            core="indexing",
            f_solver=SOLVER,
            f_max_iter=config.max_steps,
            eval_f_max_iter=config.max_steps,
            f_tol=config.tol,
            f_stop_mode="rel",
            ift=not phantom,
            grad=config.phantom_steps,
            tau=config.phantom_damping if phantom else 1.0,
            b_max_iter=30,
            b_tol=1e-4,
        )

    def initial_particles(self, batch: int, dtype=torch.float32) -> torch.Tensor:
        """Z_0: one seeded draw of m particles, the same for every cloud of the batch."""
        generator = torch.Generator().manual_seed(self.init_seed)
        z0 = torch.randn(self.config.n_particles, self.config.d_model, generator=generator, dtype=dtype)
        return z0.expand(batch, -1, -1).clone()

    def flow_step(self, h: torch.Tensor, mask: torch.Tensor) -> MMDFlowStep:
        """The flow's step for the encoded input ``h``, with this model's kernel and step size."""
        config = self.config
        return MMDFlowStep(
            lambda z: self.layer(z, h, mask), config.flow_lr, config.kernel, config.bandwidth, config.flow_decay
        )

    def particles(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        config = self.config
        h = self.encoder(points, mask)
        z0 = self.initial_particles(points.shape[0], points.dtype).to(points.device)

        def layer(z):
            return self.layer(z, h, mask)

        if config.unroll_steps:
            z = z0
            trace = []
            for _ in range(config.unroll_steps):
                z_next = layer(z)
                trace.append(mmd_residual(z, z_next, config))
                z = z_next
            trace = torch.stack(trace, 1)
            self.last_stats = {"residual_trace": trace, "relative": trace[:, -1] / trace[:, 0].clamp_min(1e-30)}
            return z
        step = self.flow_step(h, mask)
        states, info = self.deq(step.map, z0, solver_kwargs={"flow_step": step})
        self.last_stats = {
            "residual_trace": info["abs_trace"].detach(),
            "relative": info["rel_lowest"].detach(),
            "steps": info["nstep"].detach(),
        }
        return states[-1]

    @torch.no_grad()
    def flow_path(self, points: torch.Tensor, mask: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The flow run for exactly ``steps`` steps (no stopping rule): particles after each step
        (steps + 1, B, m, d), starting from the initial draw, and MMD^2(Z_k, f(Z_k; X)) (B, steps + 1)."""
        step = self.flow_step(self.encoder(points, mask), mask)
        z = self.initial_particles(points.shape[0], points.dtype).to(points.device)
        path, residuals = [z], []
        for _ in range(steps):
            z, residual = step(z)
            step.advance()
            path.append(z)
            residuals.append(residual)
        residuals.append(step(z)[1])
        return torch.stack(path), torch.stack(residuals, 1)

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        z = self.particles(points, mask)
        if self.config.head == "classify":
            return self.head(z.max(1).values)
        return self.head(z)


def mmd_residual(z: torch.Tensor, z_next: torch.Tensor, config: DDEQConfig) -> torch.Tensor:
    with torch.no_grad():
        return mmd2(z, z_next, kernel=config.kernel, bandwidth=config.bandwidth)


class PointNet(nn.Module):
    """Point-wise MLP (p -> widths), max-pool over real points, MLP head (-> classes)."""

    def __init__(self, point_dim: int, n_classes: int, widths=(64, 128, 1024), head_widths=(512, 256)):
        super().__init__()
        layers, previous = [], point_dim
        for width in widths:
            layers += [nn.Linear(previous, width), nn.LayerNorm(width), nn.ReLU()]
            previous = width
        self.point_mlp = nn.Sequential(*layers)
        head = []
        for width in head_widths:
            head += [nn.Linear(previous, width), nn.LayerNorm(width), nn.ReLU()]
            previous = width
        self.head = nn.Sequential(*head, nn.Linear(previous, n_classes))

    def forward(self, points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        features = self.point_mlp(points).masked_fill(~mask.unsqueeze(-1), float("-inf"))
        return self.head(features.max(1).values)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
