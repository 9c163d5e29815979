"""Training and evaluation of DDEQ, its unrolled ablation and PointNet; :func:`run` is one sweep cell.

Classification: cross-entropy, AdamW, cosine learning-rate decay, gradient norm clipped at 1, random
rotation (about the vertical axis for 3-D shapes) and scale as augmentation for shapes. Completion
(:func:`run_completion`): the model reads a cloud with a disc cut out (:func:`.data.remove_disc`)
and its particles, mapped to points, are trained to match the whole cloud in exact energy distance.
Everything random (data, split, initialisation, batches, cuts) derives from the seed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from discolab.core.errors import DiscolabError

from .data import PointClouds, load, remove_disc, shape_clouds, split
from .mmd import chamfer, mmd2
from .model import DDEQ, DDEQConfig, PointNet, parameter_count

MODELS = ("ddeq", "unrolled", "pointnet")
POINTNET_SIZES = {  # (point-wise widths, head widths)
    "full": ((64, 128, 1024), (512, 256)),  # Qi et al.'s widths, ~0.8M parameters
    "small": ((64, 128, 256), (128, 64)),  # about DDEQ's parameter count
}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise DiscolabError(f"bad training settings: {self}")


def lr_at(train: TrainConfig, progress: float) -> float:
    return train.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def build_model(name: str, point_dim: int, n_classes: int, **settings) -> torch.nn.Module:
    """``ddeq``, ``unrolled`` (DDEQ's layer applied ``unroll_steps`` times) or ``pointnet``
    (``pointnet_size`` full or small, :data:`POINTNET_SIZES`)."""
    if name == "pointnet":
        size = settings.get("pointnet_size", "full")
        if size not in POINTNET_SIZES:
            raise DiscolabError(f"unknown pointnet_size {size!r}; choose one of {tuple(POINTNET_SIZES)}")
        widths, head = POINTNET_SIZES[size]
        return PointNet(point_dim, n_classes, widths=widths, head_widths=head)
    if name not in ("ddeq", "unrolled"):
        raise DiscolabError(f"unknown model {name!r}; choose one of {MODELS}")
    known = {f.name for f in fields(DDEQConfig)}
    config = {k: v for k, v in settings.items() if k in known}
    if name == "unrolled":
        config.setdefault("unroll_steps", 10)
    else:
        config["unroll_steps"] = 0
    return DDEQ(DDEQConfig(point_dim=point_dim, n_outputs=n_classes, **config))


def augment(points: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random rotation in the plane of the first two coordinates and a random scale in [0.85, 1.15]."""
    angle = torch.rand(len(points), generator=generator) * 2 * math.pi
    cos, sin = angle.cos(), angle.sin()
    rotated = points.clone()
    rotated[..., 0] = cos[:, None] * points[..., 0] - sin[:, None] * points[..., 1]
    rotated[..., 1] = sin[:, None] * points[..., 0] + cos[:, None] * points[..., 1]
    return rotated * (0.85 + 0.3 * torch.rand(len(points), 1, 1, generator=generator))


def fit(
    model: torch.nn.Module,
    data: PointClouds,
    train: TrainConfig,
    seed: int,
    loss: Callable[[torch.nn.Module, PointClouds, torch.Generator], torch.Tensor],
    progress: Callable[[str], None] | None = None,
) -> list[float]:
    """Minimise ``loss(model, batch, generator)`` over shuffled batches; returns each epoch's mean loss."""
    generator = torch.Generator().manual_seed(seed + 7919)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay)
    batches = math.ceil(len(data) / train.batch_size)
    history = []
    model.train()
    for epoch in range(train.epochs):
        order = torch.randperm(len(data), generator=generator)
        total = 0.0
        for b in range(batches):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(train, (epoch * batches + b) / (train.epochs * batches))
            value = loss(model, data.subset(order[b * train.batch_size : (b + 1) * train.batch_size]), generator)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += value.item()
        history.append(total / batches)
        if progress:
            progress(f"epoch {epoch + 1}/{train.epochs}: loss {history[-1]:.4f}")
    return history


def classification_loss(rotate: bool):
    """Cross-entropy, on randomly rotated and scaled clouds when ``rotate``."""

    def loss(model, batch: PointClouds, generator: torch.Generator) -> torch.Tensor:
        points = augment(batch.points, generator) if rotate else batch.points
        return F.cross_entropy(model(points, batch.mask), batch.labels)

    return loss


def completion_loss(fraction: float):
    """Exact energy distance from the output to the whole cloud, the input having ``fraction`` cut."""

    def loss(model, batch: PointClouds, generator: torch.Generator) -> torch.Tensor:
        kept = remove_disc(batch.points, batch.mask, fraction, generator)
        return mmd2(model(batch.points, kept), batch.points, y_mask=batch.mask).mean()

    return loss


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: PointClouds, batch_size: int = 256) -> dict:
    """Accuracy; for DDEQ models also the flow's mean steps and relative residual, per test cloud."""
    model.eval()
    correct, steps, relative = 0, [], []
    for start in range(0, len(data), batch_size):
        part = data.subset(range(start, min(start + batch_size, len(data))))
        correct += int((model(part.points, part.mask).argmax(1) == part.labels).sum())
        stats = getattr(model, "last_stats", {})
        if "relative" in stats:
            relative.append(stats["relative"])
        if "steps" in stats:
            steps.append(stats["steps"].float())
    metrics = {"accuracy": correct / len(data)}
    if relative:
        relative = torch.cat(relative)
        metrics["relative_residual_median"] = relative.median().item()
        metrics["relative_residual_max"] = relative.max().item()
    if steps:
        metrics["flow_steps_mean"] = torch.cat(steps).mean().item()
    return metrics


@torch.no_grad()
def permutation_gap(model: torch.nn.Module, data: PointClouds, seed: int, n: int = 64) -> float:
    """Largest |logit difference| between clouds and the same clouds with their points shuffled."""
    model.eval()
    part = data.subset(range(min(n, len(data))))
    generator = torch.Generator().manual_seed(seed)
    order = torch.stack([torch.randperm(part.points.shape[1], generator=generator) for _ in range(len(part))])
    shuffled_points = torch.gather(part.points, 1, order.unsqueeze(-1).expand_as(part.points))
    shuffled_mask = torch.gather(part.mask, 1, order)
    return (model(part.points, part.mask) - model(shuffled_points, shuffled_mask)).abs().max().item()


@torch.no_grad()
def accuracy_by_depth(model: DDEQ, data: PointClouds, depths: Sequence[int], batch_size: int = 256) -> dict[int, float]:
    """Test accuracy when the flow runs exactly k steps from Z_0 (no stopping rule), for each k in
    ``depths``: how much of the prediction the flow's depth carries, and whether the model still
    answers past the depth it was trained at."""
    model.eval()
    correct = dict.fromkeys(depths, 0)
    for start in range(0, len(data), batch_size):
        part = data.subset(range(start, min(start + batch_size, len(data))))
        path, _ = model.flow_path(part.points, part.mask, max(depths))
        for k in depths:
            correct[k] += int((model.head(path[k].max(1).values).argmax(1) == part.labels).sum())
    return {k: correct[k] / len(data) for k in depths}


def relative_residual_trace(model: DDEQ, data: PointClouds, steps: int = 100, n: int = 128) -> torch.Tensor:
    """MMD^2(Z_k, f(Z_k)) / MMD^2(Z_0, f(Z_0)) for k = 0..steps on the first ``n`` clouds, (n, steps + 1)."""
    model.eval()
    part = data.subset(range(min(n, len(data))))
    _, residuals = model.flow_path(part.points, part.mask, steps)
    return residuals / residuals[:, :1].clamp_min(1e-30)


def dataset_for(config: dict, seed: int) -> tuple[PointClouds, PointClouds]:
    """The seeded train/test split of ``config["data"]`` (digits or shapes; ``dim`` for shapes)."""
    name = config.get("data", "digits")
    options = {"dim": config["dim"]} if name == "shapes" and "dim" in config else {}
    if name == "shapes" and "n_per_class" in config:
        options["n_per_class"] = config["n_per_class"]
    try:
        data = load(name, seed=seed, **options)
    except ValueError as err:
        raise DiscolabError(str(err)) from None
    return split(data, seed=seed)


def run(config: dict, seed: int, progress: Callable[[str], None] | None = None) -> tuple[torch.nn.Module, dict]:
    """One classification cell: ``config`` has ``model`` (ddeq | unrolled | pointnet), ``data``
    (digits | shapes), model settings (:class:`DDEQConfig` fields, ``pointnet_size``) and training
    settings (:class:`TrainConfig` fields). Returns the trained model and its test metrics, parameter
    count, permutation gap and training time."""
    config = dict(config)
    train_settings = {f.name: config.pop(f.name) for f in fields(TrainConfig) if f.name in config}
    train = TrainConfig(**train_settings)
    torch.manual_seed(seed)
    train_data, test_data = dataset_for(config, seed)
    model = build_model(config.get("model", "ddeq"), train_data.point_dim, len(train_data.classes), **config)
    if hasattr(model, "init_seed"):
        model.init_seed = seed
    start = time.perf_counter()
    losses = fit(model, train_data, train, seed, classification_loss(config.get("data") == "shapes"), progress)
    seconds = time.perf_counter() - start
    metrics = evaluate(model, test_data)
    metrics.update(
        params=parameter_count(model),
        permutation_gap=permutation_gap(model, test_data, seed),
        train_seconds=seconds,
        final_train_loss=losses[-1],
        chance=1.0 / len(train_data.classes),
        n_train=len(train_data),
        n_test=len(test_data),
    )
    return model, metrics


def run_completion(
    config: dict, seed: int, progress: Callable[[str], None] | None = None
) -> tuple[DDEQ, dict, PointClouds, torch.Tensor]:
    """Toy completion on 2-D shapes: the model (``model`` ddeq or unrolled) reads a cloud with
    ``fraction`` of its points cut out around a random point, and its particles (``n_particles``,
    each mapped to a point) are trained to the whole cloud by exact energy distance.

    f's residual branches start at gain ``residual_scale`` 0.1: at gain 1 every application of f
    mixes the same pooled input into every particle and the particles collapse to one point (output
    spread ~0, measured). The flow runs ``max_steps`` steps in training and evaluation; the DDEQ is
    also scored after 4x as many steps (``*_long``), which shows whether the output is the flow's
    fixed point or a state on the way to it.

    Returns the model, the test metrics (MMD^2 and Chamfer to the whole cloud of the cut input and of
    the output), the test clouds and their masks after the cut.
    """
    config = dict(config)
    fraction = config.pop("fraction", 0.25)
    name = config.pop("model", "ddeq")
    train = TrainConfig(**{f.name: config.pop(f.name) for f in fields(TrainConfig) if f.name in config})
    torch.manual_seed(seed)
    data = shape_clouds(n_per_class=config.pop("n_per_class", 150), dim=2, seed=seed)
    train_data, test_data = split(data, seed=seed)
    settings = {"n_particles": 32, "residual_scale": 0.1, "max_steps": 30, **config, "head": "points"}
    model = build_model(name, 2, 2, **settings)
    model.init_seed = seed
    start = time.perf_counter()
    fit(model, train_data, train, seed, completion_loss(fraction), progress)
    seconds = time.perf_counter() - start
    model.eval()
    kept = remove_disc(test_data.points, test_data.mask, fraction, torch.Generator().manual_seed(seed + 104729))
    full, mask = test_data.points, test_data.mask
    with torch.no_grad():
        outputs = {"output": model(full, kept)}
        relative = model.last_stats["relative"].median().item()
        if not model.config.unroll_steps:
            path, _ = model.flow_path(full, kept, 4 * model.config.max_steps)
            outputs["output_long"] = model.head(path[-1])
    metrics = {"mmd2_input": mmd2(full, full, kept, mask).mean().item()}
    metrics["chamfer_input"] = chamfer(full, full, kept, mask).mean().item()
    for key, output in outputs.items():
        metrics[f"mmd2_{key}"] = mmd2(output, full, None, mask).mean().item()
        metrics[f"chamfer_{key}"] = chamfer(output, full, None, mask).mean().item()
        metrics[f"spread_{key}"] = output.std(1).mean().item()
    metrics.update(
        spread_target=torch.stack([full[i][mask[i]].std(0).mean() for i in range(len(full))]).mean().item(),
        relative_residual_median=relative,
        params=parameter_count(model),
        train_seconds=seconds,
        fraction=fraction,
    )
    return model, metrics, test_data, kept
