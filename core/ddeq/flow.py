"""The DDEQ forward pass: a particle flow to the fixed point of a latent measure.

The latent is a uniform measure over m particles Z = (z_1..z_m) in R^d. The layer f maps it (and the
input cloud X) to another such measure, f(Z; X). A distributional fixed point is a Z with
f(Z; X) = Z *as measures* (the particles may come out permuted), i.e. a zero of the residual

    R(Z) = MMD^2(Z, f(Z; X)).

Each step moves the particles down the Wasserstein gradient of 1/2 MMD^2(., T) toward the current
target T = f(Z; X), then re-evaluates the target:

    z_i <- z_i - lr * v_i(Z, f(Z; X)),   v from :func:`.mmd.mmd_velocity`

(Geuter et al., 2025, "DDEQ: Distributional deep equilibrium models through Wasserstein gradient
flows", AISTATS; Arbel et al., 2019, "Maximum mean discrepancy gradient flow", NeurIPS). Its fixed
points are exactly the measures with v = 0, i.e. (for a characteristic kernel and distinct
particles) Z = f(Z; X). Descending the full gradient of R instead, through f's dependence on Z,
stalls far from zero on the same layers (measured in docs/ddeq.md), so the target is held fixed
within a step.

The flow is registered with torchdeq as the solver ``"mmd_flow"`` (:func:`mmd_flow_solver`), so
torchdeq's DEQ cores provide the backward pass through the step map g(Z) = Z - lr * v(Z, f(Z; X)):
phantom gradients (a few damped differentiable steps of g at the solution) or implicit
differentiation (the adjoint linear system of g at the solution). The solver stops when the relative
residual R(Z_k) / R(Z_0) falls below ``tol`` for every cloud of the batch (each cloud frozen at its
own first such step), or after ``max_iter`` steps, and reports per cloud the residual trace, the
lowest relative residual and its step.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchdeq.solver import register_solver
from torchdeq.solver.stat import SolverStat

from .mmd import mmd2, mmd_velocity

SOLVER = "mmd_flow"


class MMDFlowStep:
    """One step of the particle flow for a fixed input: ``step(Z) -> (g(Z), MMD^2(Z, f(Z; X)))``.

    ``layer(Z)`` is f(Z; X) with X bound. Differentiable in Z and in f's parameters when gradients
    are enabled (torchdeq's backward); torchdeq runs the solver itself under ``no_grad``.

    The step size is lr / (1 + decay * k) at step k (``advance`` moves k on; decay 0 is a fixed
    step). A decaying step lets the flow settle with a nearly exact Riesz kernel (small smoothing;
    with none, float32 rounding of ||x - y||^2 near 0 makes it unstable), whose unit-length gradients
    make a fixed step oscillate; g's fixed points (v = 0) do not depend on the step size.
    """

    def __init__(
        self,
        layer: Callable[[torch.Tensor], torch.Tensor],
        lr: float,
        kernel: str = "energy",
        bandwidth: float = 1.0,
        decay: float = 0.0,
    ):
        self.layer, self.lr, self.kernel, self.bandwidth, self.decay = layer, lr, kernel, bandwidth, decay
        self.k = 0

    @property
    def step_size(self) -> float:
        return self.lr / (1.0 + self.decay * self.k)

    def advance(self) -> None:
        self.k += 1

    def __call__(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        target = self.layer(z)
        residual = mmd2(z, target, kernel=self.kernel, bandwidth=self.bandwidth)
        return z - self.step_size * mmd_velocity(z, target, self.kernel, self.bandwidth), residual

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """g(Z): the fixed-point map torchdeq differentiates (at the step size the flow ended with)."""
        return self(z)[0]


def mmd_flow_solver(func, x0, max_iter=50, tol=1e-3, stop_mode="rel", indexing=None, flow_step=None, **_):
    """torchdeq solver interface: run the flow from ``x0``; returns (Z*, trajectory at ``indexing``, stats).

    ``flow_step`` (an :class:`MMDFlowStep`, passed through torchdeq's ``solver_kwargs``) is the same map
    as ``func`` but also returns the residual the stopping rule needs; without it the solver falls back
    to ``func`` and the residual of the particles' displacement. Per cloud, the iterate with the lowest
    residual is kept (as torchdeq's own solvers do), and a cloud whose residual has fallen below ``tol``
    is frozen there: what a cloud gets never depends on how long the other clouds of its batch take.
    ``stop_mode`` "rel" uses the relative residual, "abs" MMD^2 itself.
    """
    batch = x0.shape[0]
    lowest = x0
    best_abs = torch.full((batch,), float("inf"), device=x0.device)
    best_rel = best_abs.clone()
    best_step = torch.zeros(batch, device=x0.device)
    done = torch.zeros(batch, dtype=torch.bool, device=x0.device)
    abs_trace, rel_trace, trajectory = [], [], []
    z, initial = x0, None
    for k in range(max_iter):
        if flow_step is not None:
            z_next, residual = flow_step(z)
        else:
            z_next = func(z)
            residual = (z_next - z).flatten(1).pow(2).sum(1)
        initial = residual.clamp_min(1e-30) if initial is None else initial
        relative = residual / initial
        measure = relative if stop_mode == "rel" else residual
        improved = (measure < (best_rel if stop_mode == "rel" else best_abs)) & ~done
        lowest = torch.where(improved.view(-1, *[1] * (z.dim() - 1)), z, lowest)
        best_abs = torch.where(improved, residual, best_abs)
        best_rel = torch.where(improved, relative, best_rel)
        best_step = torch.where(improved, torch.full_like(best_step, k), best_step)
        abs_trace.append(residual)
        rel_trace.append(relative)
        done = done | (measure < tol)
        if indexing and (k + 1) in indexing:
            trajectory.append(lowest)
        if done.all():
            break
        z = z_next
        if flow_step is not None and k + 1 < max_iter:
            flow_step.advance()
    if indexing and not trajectory:
        trajectory.append(lowest)
    stats = SolverStat(
        abs_lowest=best_abs,
        rel_lowest=best_rel,
        abs_trace=torch.stack(abs_trace, 1),
        rel_trace=torch.stack(rel_trace, 1),
        nstep=best_step,
    )
    return lowest, trajectory, stats


register_solver(SOLVER, mmd_flow_solver)
