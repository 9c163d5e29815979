"""Soft labels and the label-structure manipulations of "A Label is Worth a Thousand Images".

Reference: Qin et al. (2024), "A Label is Worth a Thousand Images in Dataset Distillation", NeurIPS.
A soft label is q = softmax(z / T) of an expert checkpoint's logits z at temperature T. The swap
test exchanges the k-th largest entry of q with its smallest (for k = 1 this moves the top class
to the bottom); truncation keeps the k largest entries and renormalises, which stores k values and
k indices instead of C values.
"""

from __future__ import annotations

import torch
from discolab.core.errors import DiscolabError


def soft_labels(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """q = softmax(z / T), row-wise."""
    if temperature <= 0:
        raise DiscolabError(f"temperature must be positive, got {temperature}")
    return torch.softmax(logits / temperature, dim=-1)


def _check_k(probs: torch.Tensor, k: int, top: int) -> None:
    if not 1 <= k <= top:
        raise DiscolabError(f"k must be in 1..{top} for {probs.shape[-1]} classes, got {k}")


def swap_kth_with_smallest(probs: torch.Tensor, k: int) -> torch.Tensor:
    """Each row with its k-th largest entry (1-based) and its smallest entry exchanged."""
    _check_k(probs, k, probs.shape[-1])
    order = probs.argsort(dim=-1, descending=True)
    kth, smallest = order[:, k - 1 : k], order[:, -1:]
    out = probs.clone()
    out.scatter_(1, kth, probs.gather(1, smallest))
    out.scatter_(1, smallest, probs.gather(1, kth))
    return out


def truncate_top_k(probs: torch.Tensor, k: int) -> torch.Tensor:
    """Each row with all but its k largest entries set to zero, renormalised to sum 1."""
    _check_k(probs, k, probs.shape[-1])
    values, index = probs.topk(k, dim=-1)
    out = torch.zeros_like(probs).scatter_(1, index, values)
    return out / out.sum(-1, keepdim=True)


def label_floats(n_classes: int, k: int | None = None, hard: bool = False) -> int:
    """Stored floats per label: 0 for a hard label (implied by the class the image is filed under),
    C for a full soft label, min(2k, C) for a top-k one (k values and k indices, or all C values)."""
    if hard:
        return 0
    return n_classes if k is None else min(2 * k, n_classes)
