"""Equal-storage comparison: D3 (monolithic or federated) vs pixel prototypes vs random real images.

Every method gets the same budget of stored floats, ``budget_ipc`` x C x (floats per image), and
spends it as :func:`discolab.core.distill.d3.storage` counts (latents, decoders, labels):

- ``d3``: latents per class = the most that fit next to the decoder(s); with ``subtasks`` > 1 the
  classes are split and each subtask gets its own expert and a decoder of ``hidden // subtasks``
  units (so the decoders together cost about one monolithic decoder);
- ``pixels``: images per class distilled by the same MMD in pixel space (:func:`.d3.distill_pixels`);
- ``real``: random real training images.

``labels``: ``hard`` (one-hot; free) or ``soft`` (one C-float row per latent or image from the
full-data expert, paid from the budget). Cells: :func:`distill_subtask` (one subtask's latents
and decoder, saved to disk; the sweep runs these in parallel) and :func:`run` (assemble, train a
student, test it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from discolab.core.errors import DiscolabError
from discolab.core.files import load_cached, save_atomic
from discolab.core.paths import data_path
from discolab.core.runs import config_hash

from .d3 import (
    DistilledPart,
    DistributionalSet,
    aggregate,
    decoder_params,
    distill_classes,
    distill_pixels,
    latents_for_budget,
    split_classes,
    storage,
)
from .data import ImageData, load_data
from .labels import soft_labels
from .nets import accuracy, expert_at, fixed_set, logits_of, new_convnet, one_hot, train_classifier, train_expert
from .softlabel import select_real_images

METHODS = ("d3", "pixels", "real")
DEFAULTS = {
    "dataset": "digits",
    "budget_ipc": 5,
    "method": "d3",
    "labels": "hard",
    "subtasks": 1,
    "latent_dim": 4,
    "hidden": 8,
    "distill_steps": 400,
    "fresh": 4,
    "student_steps": 300,
    "temperature": 4.0,
    "expert_train_epochs": 20,
    "width": 16,
    "data_seed": 0,
    "init": "pca",  # how latents and decoder start: "pca" (the study's) or "random" (the pilot's ablation)
}
# The settings a subtask's distillation depends on (its cache key); student settings are not among them.
SUBTASK_KEYS = ("dataset", "data_seed", "budget_ipc", "labels", "subtasks", "latent_dim", "hidden", "distill_steps")
SUBTASK_KEYS += ("expert_train_epochs", "width", "init")


def resolve(config: dict) -> dict:
    unknown = set(config) - set(DEFAULTS) - {"subtask"}
    if unknown:
        raise DiscolabError(f"unknown D3 settings: {', '.join(sorted(unknown))}")
    config = {**DEFAULTS, **config}
    if config["method"] not in METHODS:
        raise DiscolabError(f"unknown method {config['method']!r}; choose from {', '.join(METHODS)}")
    if float(config["budget_ipc"]).is_integer():  # 5.0 and 5 are one setting: one cache key for both
        config["budget_ipc"] = int(config["budget_ipc"])
    if config["labels"] not in ("hard", "soft"):
        raise DiscolabError(f"labels must be 'hard' or 'soft', got {config['labels']!r}")
    return config


def subtask_hidden(config: dict) -> int:
    return max(1, config["hidden"] // config["subtasks"])


def d3_layout(config: dict, data: ImageData) -> dict:
    """Latents per class and the storage account of a D3 config."""
    decoders = config["subtasks"] * decoder_params(config["latent_dim"], subtask_hidden(config), data.image_floats)
    soft = config["labels"] == "soft"
    per_class = latents_for_budget(
        config["budget_ipc"], data.n_classes, data.image_floats, config["latent_dim"], decoders, soft
    )
    account = storage(data.n_classes, per_class, config["latent_dim"], decoders, data.image_floats, soft)
    return {"per_class": per_class, **account}


def images_for_budget(config: dict, data: ImageData) -> int:
    """Images per class that the budget buys, labels included."""
    label = data.n_classes if config["labels"] == "soft" else 0
    count = int(config["budget_ipc"] * data.image_floats // (data.image_floats + label))
    if count < 1:
        raise DiscolabError(f"a budget of {config['budget_ipc']} images per class buys no image with its label")
    return count


def subtask_configs(config: dict) -> list[dict]:
    """One distillation config per subtask (the cells of the parallel phase)."""
    config = resolve(config)
    base = {key: config[key] for key in SUBTASK_KEYS}
    return [{**base, "subtask": i} for i in range(config["subtasks"])]


def part_path(subtask_config: dict, seed: int):
    return data_path("distill", "d3", f"{config_hash(subtask_config)}-s{seed}.pt")


def distill_subtask(config: dict, seed: int, progress: Callable[[str], None] | None = None) -> dict:
    """Sweep cell: distill one subtask's latents and decoder with that subtask's own expert; saved to
    :func:`part_path` (a rerun reuses the file). Returns its MMD, storage and time."""
    config = {**resolve(config), "method": "d3"}
    key = {k: config[k] for k in (*SUBTASK_KEYS, "subtask")}
    path = part_path(key, seed)
    data = load_data(config["dataset"], config["data_seed"])
    classes = split_classes(data.n_classes, config["subtasks"])[config["subtask"]]
    layout = d3_layout(config, data)
    start = time.perf_counter()
    cached = load_cached(path)  # None when missing, truncated or foreign: then distilled again
    if cached is not None:
        part = DistilledPart.from_dict(cached)
    else:
        sub = data.subset(classes) if config["subtasks"] > 1 else data
        checkpoints = train_expert(sub, seed, config["expert_train_epochs"], config["width"], progress)
        expert = expert_at(sub, checkpoints, len(checkpoints["states"]), config["width"])
        part = distill_classes(
            sub,
            expert,
            layout["per_class"],
            config["latent_dim"],
            subtask_hidden(config),
            config["distill_steps"],
            seed,
            classes=classes,
            init=config["init"],
            progress=progress,
        )
        save_atomic(part.to_dict(), path)
    return {
        "final_mmd": part.final_mmd,
        "classes": len(classes),
        "latents_per_class": layout["per_class"],
        "seconds_distill": time.perf_counter() - start,
    }


def load_parts(config: dict, seed: int, progress: Callable[[str], None] | None = None) -> list[DistilledPart]:
    """Every subtask's part of ``config``, distilling (in this process) the ones not on disk yet."""
    parts = []
    for sub in subtask_configs(config):
        distill_subtask(sub, seed, progress)  # a no-op read when the parallel phase already ran
        parts.append(DistilledPart.from_dict(torch.load(part_path(sub, seed), weights_only=True)))
    return parts


def distributional_set(config: dict, seed: int, progress: Callable[[str], None] | None = None) -> DistributionalSet:
    """The re-aggregated D3 set of ``config`` (distilling what is not on disk), labels as configured."""
    config = {**resolve(config), "method": "d3"}
    data = load_data(config["dataset"], config["data_seed"])
    label_net = None
    if config["labels"] == "soft":
        checkpoints = train_expert(data, seed, config["expert_train_epochs"], config["width"], progress)
        label_net = expert_at(data, checkpoints, len(checkpoints["states"]), config["width"])
    return aggregate(load_parts(config, seed, progress), data.n_classes, label_net, config["temperature"])


def run(config: dict, seed: int, progress: Callable[[str], None] | None = None) -> dict:
    """Sweep cell: build the method's distilled set within the budget, train a student from scratch on
    it, and return its test accuracy with the storage account."""
    config = resolve(config)
    data = load_data(config["dataset"], config["data_seed"])
    checkpoints = train_expert(data, seed, config["expert_train_epochs"], config["width"], progress)
    expert = expert_at(data, checkpoints, len(checkpoints["states"]), config["width"])
    soft = config["labels"] == "soft"
    generator = torch.Generator().manual_seed(seed)
    student = new_convnet(data.n_classes, data.image_shape, config["width"], seed + 1)
    start = time.perf_counter()
    if config["method"] == "d3":
        layout = d3_layout(config, data)
        # the expert is in hand: aggregate here rather than through distributional_set, which would reload it
        parts = load_parts(config, seed, progress)
        distilled = aggregate(parts, data.n_classes, expert if soft else None, config["temperature"])
        sample = distilled.training_set(config["fresh"])
        metrics = {"latents_per_class": layout.pop("per_class"), **layout}
    else:
        count = images_for_budget(config, data)
        if config["method"] == "pixels":
            images = distill_pixels(data, expert, count, config["distill_steps"], seed).flatten(0, 1)
            labels = torch.arange(data.n_classes).repeat_interleave(count)
        else:
            index = select_real_images(data.train_y, count, data.n_classes, generator)
            images, labels = data.train_x[index], data.train_y[index]
        targets = (
            soft_labels(logits_of(expert, images), config["temperature"]) if soft else one_hot(labels, data.n_classes)
        )
        sample = fixed_set(images, targets)
        floats = len(images) * (data.image_floats + (data.n_classes if soft else 0))
        metrics = {"images_per_class": count, "total_floats": floats}
        metrics["ipc_equivalent"] = floats / (data.n_classes * data.image_floats)
    train_classifier(student, sample, config["student_steps"], seed)
    return {
        "accuracy": accuracy(student, data.test_x, data.test_y),
        "expert_accuracy": checkpoints["test_accuracy"][-1],
        "seconds": time.perf_counter() - start,
        **metrics,
    }
