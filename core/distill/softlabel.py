"""The soft-label baseline: random real images per class + an expert's soft labels; :func:`run` is one cell.

Reference: Qin et al. (2024), "A Label is Worth a Thousand Images in Dataset Distillation".
Distilled set S = {(x_i, q_i)}: ``ipc`` real training images per class drawn at random, and
q_i = softmax(z_e(x_i) / T) from the expert checkpoint after epoch e, computed once. A student
(the expert's architecture, fresh initialisation) is trained from scratch on S with soft cross-
entropy and light augmentation; the hard-label control trains the same student on the same images
with one-hot labels. Every student of a cell shares the images and the initialisation, so the
comparisons inside a cell are paired. Students are scored on the test split, or on the validation
split (``evaluate_on``) where a setting is being chosen.

Cell kinds (``config["study"]``):

- ``epochs``: the hard-label student and one soft-label student per expert epoch in
  ``expert_epochs`` (rows ``hard`` and ``soft`` at step = expert epoch; ``expert`` = the
  checkpoint's own test accuracy);
- ``swap``: soft labels from ``expert_epoch`` with the k-th largest entry swapped with the smallest,
  for each k in ``ks`` (rows ``swap`` at step k; k = 0 is the unswapped control);
- ``topk``: soft labels truncated to their k largest entries (rows ``topk`` at step k, plus
  ``label_floats`` per image at step k).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from discolab.core.errors import DiscolabError

from .data import load_data
from .labels import label_floats, soft_labels, swap_kth_with_smallest, truncate_top_k
from .nets import accuracy, expert_at, fixed_set, logits_of, new_convnet, one_hot, train_classifier, train_expert

STUDIES = ("epochs", "swap", "topk")
DEFAULTS = {
    "dataset": "digits",
    "ipc": 1,
    "study": "epochs",
    "expert_train_epochs": 20,
    "expert_epochs": [1, 2, 3, 5, 8, 12, 20],
    "expert_epoch": 3,
    "temperature": 4.0,
    "ks": None,
    "student_steps": 300,
    "width": 16,
    "data_seed": 0,
    "evaluate_on": "test",  # or "validation": where settings are chosen (the temperature per IPC)
}


def select_real_images(labels: torch.Tensor, ipc: int, n_classes: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``ipc`` training images per class, drawn without replacement, class by class."""
    chosen = []
    for label in range(n_classes):
        members = torch.nonzero(labels == label).flatten()
        if len(members) < ipc:
            raise DiscolabError(f"class {label} has {len(members)} training images, fewer than ipc={ipc}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:ipc]])
    return torch.cat(chosen)


def resolve(config: dict) -> dict:
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise DiscolabError(f"unknown soft-label settings: {', '.join(sorted(unknown))}")
    config = {**DEFAULTS, **config}
    if config["study"] not in STUDIES:
        raise DiscolabError(f"unknown study {config['study']!r}; choose from {', '.join(STUDIES)}")
    if config["ipc"] < 1:
        raise DiscolabError(f"ipc must be at least 1, got {config['ipc']}")
    asked = config["expert_epochs"] if config["study"] == "epochs" else [config["expert_epoch"]]
    outside = [e for e in asked if not 1 <= e <= config["expert_train_epochs"]]
    if outside:
        raise DiscolabError(
            f"expert epochs {outside} are outside the expert's training (1 to {config['expert_train_epochs']} epochs)"
        )
    return config


def run(config: dict, seed: int, progress: Callable[[str], None] | None = None) -> list[dict]:
    """One cell: the students of ``config["study"]`` on one draw of real images; rows of metrics."""
    config = resolve(config)
    data = load_data(config["dataset"], config["data_seed"])
    checkpoints = train_expert(data, seed, config["expert_train_epochs"], config["width"], progress)
    generator = torch.Generator().manual_seed(seed)
    index = select_real_images(data.train_y, config["ipc"], data.n_classes, generator)
    images, labels = data.train_x[index], data.train_y[index]

    def student_accuracy(targets: torch.Tensor) -> float:
        student = new_convnet(data.n_classes, data.image_shape, config["width"], seed + 1)
        train_classifier(student, fixed_set(images, targets), config["student_steps"], seed)
        return accuracy(student, *data.split(config["evaluate_on"]))

    def labels_from(epoch: int) -> torch.Tensor:
        expert = expert_at(data, checkpoints, epoch, config["width"])
        return soft_labels(logits_of(expert, images), config["temperature"])

    rows = []
    study = config["study"]
    if study == "epochs":
        rows.append({"metric": "hard", "value": student_accuracy(one_hot(labels, data.n_classes)), "step": 0})
        for epoch in config["expert_epochs"]:
            rows.append({"metric": "soft", "value": student_accuracy(labels_from(epoch)), "step": epoch})
            rows.append({"metric": "expert", "value": checkpoints["test_accuracy"][epoch - 1], "step": epoch})
            if progress:
                progress(f"ipc {config['ipc']}, expert epoch {epoch}: soft {rows[-2]['value']:.3f}")
        return rows
    ks = config["ks"] or list(range(1, data.n_classes + 1))
    probs = labels_from(config["expert_epoch"])
    for k in ([0] if study == "swap" else []) + list(ks):
        if study == "swap":
            targets = probs if k == 0 else swap_kth_with_smallest(probs, k)
        else:
            targets = truncate_top_k(probs, k)
            rows.append({"metric": "label_floats", "value": label_floats(data.n_classes, k), "step": k})
        rows.append({"metric": study, "value": student_accuracy(targets), "step": k})
        if progress:
            progress(f"ipc {config['ipc']}, {study} k={k}: {rows[-1]['value']:.3f}")
    return rows
