"""The classifier used as expert and as student, its training, and the expert's per-epoch checkpoints.

One small ConvNet (the dataset-distillation literature's default backbone, scaled to 8x8 images):
two 3x3 convolutions with instance normalisation (GroupNorm with one group per channel: no batch
statistics, which a 10-image distilled set could not supply) and ReLU, 2x2 average pooling, a
hidden linear layer whose output is the feature vector (:meth:`ConvNet.features`, used by D3's
MMD) and a linear classifier.

Training minimises cross-entropy against target distributions: one-hot rows for hard labels,
soft rows from an expert for soft labels, ``-sum_c q_c log softmax(f(x))_c``. Light augmentation:
a random shift of up to one pixel (zero padding), drawn per image and per step.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from discolab.core.errors import DiscolabError
from discolab.core.files import load_cached, save_atomic
from discolab.core.paths import data_path
from torch import nn

from .data import ImageData

DEFAULT_WIDTH = 16
FEATURES = 128


class ConvNet(nn.Module):
    def __init__(self, n_classes: int, width: int = DEFAULT_WIDTH, in_channels: int = 1, features: int = FEATURES):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.GroupNorm(width, width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.GroupNorm(2 * width, 2 * width),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
        )
        self.hidden = nn.LazyLinear(features)
        self.head = nn.Linear(features, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.hidden(self.body(x - 0.5)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def new_convnet(n_classes: int, image_shape: tuple[int, ...], width: int = DEFAULT_WIDTH, seed: int = 0) -> ConvNet:
    """A freshly initialised ConvNet (lazy layer materialised) from ``seed``."""
    torch.manual_seed(seed)
    net = ConvNet(n_classes, width, image_shape[0])
    net(torch.zeros(1, *image_shape))
    return net


def shift_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image shifted by a random (dy, dx) in {-1, 0, 1}^2, zeros shifted in."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (1, 1, 1, 1))
    shifts = torch.stack([padded[..., i : i + h, j : j + w] for i in range(3) for j in range(3)])
    choice = torch.randint(0, 9, (len(x),), generator=generator)
    return shifts[choice, torch.arange(len(x))]


def one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    return F.one_hot(labels, n_classes).float()


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_c q_c log softmax(logits)_c."""
    return -(targets * F.log_softmax(logits, dim=-1)).sum(-1).mean()


def train_classifier(
    net: ConvNet,
    sample: Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    seed: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 5e-4,
    augment: bool = True,
    on_epoch: Callable[[int], None] | None = None,
) -> float:
    """Train ``net`` for ``steps`` minibatch steps of soft cross-entropy (Adam, cosine learning rate).

    ``sample(generator)`` returns one epoch's training set ``(images, target distributions)``; it is
    called at the start of every epoch, so a fixed set returns the same tensors and a distributional
    set (D3) returns fresh samples. ``on_epoch(epoch)`` runs after each full epoch (checkpoints).
    Returns the mean loss over the last epoch."""
    if steps < 1:
        raise DiscolabError(f"steps must be positive, got {steps}")
    generator = torch.Generator().manual_seed(seed + 104_729)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    net.train()
    step, epoch, losses = 0, 0, []
    while step < steps:
        x, targets = sample(generator)
        order = torch.randperm(len(x), generator=generator)
        losses = []
        starts = range(0, len(x), batch_size)[: steps - step]  # the last epoch may stop part-way
        for start in starts:
            index = order[start : start + batch_size]
            batch = shift_augment(x[index], generator) if augment else x[index]
            loss = soft_cross_entropy(net(batch), targets[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        step += len(starts)
        if starts[-1] + batch_size >= len(x):
            epoch += 1
            if on_epoch is not None:
                on_epoch(epoch)
    net.eval()
    return sum(losses) / max(1, len(losses))


@torch.no_grad()
def accuracy(net: ConvNet, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    return (net(x).argmax(-1) == y).float().mean().item()


@torch.no_grad()
def logits_of(net: ConvNet, x: torch.Tensor) -> torch.Tensor:
    net.eval()
    return net(x)


def fixed_set(x: torch.Tensor, targets: torch.Tensor) -> Callable[[torch.Generator], tuple[torch.Tensor, torch.Tensor]]:
    return lambda generator: (x, targets)


# --- the expert and its per-epoch checkpoints -------------------------------------------------------------------


def expert_path(data: ImageData, seed: int, epochs: int, width: int) -> Path:
    """The cache file of an expert's checkpoints: one per (data set incl. class subset, seed, epochs, width)."""
    digest = hashlib.sha256(json.dumps([data.name, seed, epochs, width]).encode())
    digest.update(data.train_x.numpy().tobytes())  # the images themselves: generator settings change them
    digest.update(data.train_y.numpy().tobytes())
    key = digest.hexdigest()[:16]
    return data_path("distill", "experts", f"{data.name.split('[')[0]}-{key}.pt")


def train_expert(
    data: ImageData,
    seed: int,
    epochs: int = 20,
    width: int = DEFAULT_WIDTH,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Train the expert on the whole training set of ``data`` with hard labels, keeping a checkpoint
    after every epoch; cached on disk, so every cell of a sweep with this seed shares one expert.

    Returns ``{"states": [state_dict after epoch 1, ..., after epoch E], "test_accuracy": [...]}``."""
    path = expert_path(data, seed, epochs, width)
    cached = load_cached(path)  # None when missing, truncated or foreign: then trained again
    if cached is not None:
        return cached
    net = new_convnet(data.n_classes, data.image_shape, width, seed)
    states, test_accuracy = [], []

    def checkpoint(epoch: int) -> None:
        states.append({k: v.detach().clone() for k, v in net.state_dict().items()})
        test_accuracy.append(accuracy(net, data.test_x, data.test_y))
        net.train()
        if progress:
            progress(f"expert epoch {epoch}/{epochs}: test accuracy {test_accuracy[-1]:.3f}")

    steps_per_epoch = -(-len(data.train_x) // 64)
    train_classifier(
        net,
        fixed_set(data.train_x, one_hot(data.train_y, data.n_classes)),
        steps_per_epoch * epochs,
        seed,
        batch_size=64,
        on_epoch=checkpoint,
    )
    result = {"states": states, "test_accuracy": test_accuracy}
    save_atomic(result, path)  # parallel cells never read a half-written file
    return result


def expert_at(data: ImageData, checkpoints: dict, epoch: int, width: int = DEFAULT_WIDTH) -> ConvNet:
    """The expert as it was after ``epoch`` (1-based) epochs."""
    states = checkpoints["states"]
    if not 1 <= epoch <= len(states):
        raise DiscolabError(f"expert epoch {epoch} out of range 1..{len(states)}")
    net = new_convnet(data.n_classes, data.image_shape, width)
    net.load_state_dict(states[epoch - 1])
    net.eval()
    return net
