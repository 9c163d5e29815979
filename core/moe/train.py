"""Training and evaluation of the MoE / dense transformers on the tasks; :func:`run` is one sweep cell.

Objective: cross-entropy on the answer tokens plus ``aux_loss_coef`` times the load-balancing loss
summed over MoE layers (:mod:`.model`). AdamW, linear warm-up then cosine decay to 10% of the peak
learning rate, gradient norm clipped at 1. Everything random (task data, initialisation, batches)
derives from the seed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from discolab.core.devices import torch_device
from discolab.core.errors import DiscolabError

from .model import Transformer, TransformerConfig, load_summary
from .tasks import IGNORE, exact_match, make_task

MODEL_KEYS = ("d_model", "n_layers", "n_heads", "d_ff", "n_experts", "top_k", "capacity_factor", "aux_loss_coef")
TRAIN_KEYS = ("steps", "batch_size", "lr", "warmup", "weight_decay")


@dataclass
class TrainConfig:
    steps: int = 3000
    batch_size: int = 128
    lr: float = 3e-3
    warmup: int = 100
    weight_decay: float = 0.0

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0 or self.warmup < 0:
            raise DiscolabError(f"bad training settings: {self}")

    def lr_at(self, step: int) -> float:
        return warmup_cosine_lr(step, self.lr, self.warmup, self.steps)


def warmup_cosine_lr(step: int, lr: float, warmup: int, steps: int) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then cosine decay to ``0.1 lr`` at ``steps``:
    lr_t = lr (t + 1) / warmup for t < warmup, else lr (0.1 + 0.45 (1 + cos(pi (t - warmup) / (steps - warmup))))."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def fit(
    model: Transformer,
    task,
    train: TrainConfig,
    seed: int,
    progress: Callable[[str], None] | None = None,
    log_every: int = 250,
) -> dict:
    """Train ``model`` on ``task``; returns the mean training loss (task part) and the mean fraction of
    MoE assignments dropped over the last 10% of steps."""
    generator = torch.Generator().manual_seed(seed + 7919)  # batches drawn on the CPU, the same on any device
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.lr, weight_decay=train.weight_decay, betas=(0.9, 0.98))
    tail = max(1, train.steps // 10)
    losses, dropped, assigned = [], 0, 0
    model.train()
    for step in range(train.steps):
        for group in optimizer.param_groups:
            group["lr"] = train.lr_at(step)
        inputs, targets = (t.to(device) for t in task.train_batch(train.batch_size, generator))
        logits, aux = model(inputs)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)
        total = loss + model.config.aux_loss_coef * aux
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step >= train.steps - tail:
            losses.append(loss.item())
            for layer in model.moe_layers():
                dropped += layer.last_load.dropped
                assigned += layer.last_load.total
        if progress and (step + 1) % log_every == 0:
            progress(f"step {step + 1}/{train.steps}: loss {loss.item():.4f}, aux {aux.item():.3f}")
    return {"train_loss": sum(losses) / len(losses), "dropped_fraction_train": dropped / assigned if assigned else 0.0}


@torch.no_grad()
def evaluate(model: Transformer, task, batch_size: int = 1000) -> dict:
    """Exact-answer accuracy, answer-token accuracy and loss on the task's test set, and the routing of the
    test tokens (served without a capacity limit) per MoE layer, summarised over layers."""
    model.eval()
    saved = [layer.capacity_factor for layer in model.moe_layers()]
    for layer in model.moe_layers():
        layer.capacity_factor = None
    inputs, targets = task.test_set()
    device = next(model.parameters()).device
    exact, tokens, answers, loss_sum, n_answers = [], [], [], 0.0, 0
    loads = [torch.zeros(layer.n_experts, dtype=torch.long) for layer in model.moe_layers()]
    try:
        for start in range(0, len(inputs), batch_size):
            x, y = (t[start : start + batch_size].to(device) for t in (inputs, targets))
            logits, _ = model(x)
            example, token = exact_match(logits, y)
            exact.append(example)
            tokens.append(token)
            answers.append(y[y != IGNORE])
            loss_sum += F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE, reduction="sum"
            ).item()
            n_answers += int((y != IGNORE).sum())
            for k, layer in enumerate(model.moe_layers()):
                loads[k] += layer.last_load.assignments
    finally:
        for layer, factor in zip(model.moe_layers(), saved):
            layer.capacity_factor = factor
    token_accuracy = torch.cat(tokens).float().mean().item()
    exact_accuracy = torch.cat(exact).float().mean().item()  # every answer token of an example right
    metrics = {
        # tasks that ask independent questions in one sequence score each question
        "accuracy": token_accuracy if getattr(task, "score_per_answer", False) else exact_accuracy,
        "token_accuracy": token_accuracy,
        "test_loss": loss_sum / n_answers,
    }
    if getattr(task, "score_per_answer", False):  # accuracy per answer class (e.g. distance 1, 2, further)
        correct, answer = torch.cat(tokens).float(), torch.cat(answers) - task.answer_offset
        for k, name in enumerate(task.classes):
            if (answer == k).any():
                metrics[f"accuracy_class_{name}"] = correct[answer == k].mean().item()
    if loads:
        summaries = [load_summary(load) for load in loads]
        metrics["load_entropy"] = sum(s["load_entropy"] for s in summaries) / len(summaries)
        metrics["load_entropy_min"] = min(s["load_entropy"] for s in summaries)
        metrics["max_load_fraction"] = max(s["max_load_fraction"] for s in summaries)
        metrics["experts_used"] = sum(int((load > 0).sum()) for load in loads) / len(loads)
    return metrics


def split_config(config: dict) -> tuple[str, dict, dict, dict]:
    """(task name, task parameters, model settings, training settings) from a flat cell config."""
    config = dict(config)
    if "task" not in config:
        raise DiscolabError("an MoE run config needs 'task' (phonebook or shortest_path)")
    task_name = config.pop("task")
    model = {k: config.pop(k) for k in MODEL_KEYS if k in config}
    train = {k: config.pop(k) for k in TRAIN_KEYS if k in config}
    return task_name, config, model, train


def run(config: dict, seed: int, progress: Callable[[str], None] | None = None) -> dict:
    """One cell: build the seeded task and model, train, evaluate; returns the metrics with the parameter counts.

    ``config``: ``task`` plus that task's parameters (e.g. ``n_entries``), model settings
    (:data:`MODEL_KEYS`: ``n_experts`` None for dense) and training settings (:data:`TRAIN_KEYS`).
    """
    task_name, task_parameters, model_settings, train_settings = split_config(config)
    torch.manual_seed(seed)
    task = make_task(task_name, seed=seed, **task_parameters)
    model = Transformer(TransformerConfig(vocab_size=task.vocab_size, block_size=task.block_size, **model_settings))
    model.to(torch_device())
    counts = model.parameter_counts()
    start = time.perf_counter()
    history = fit(model, task, TrainConfig(**train_settings), seed, progress)
    metrics = {**history, **evaluate(model, task)}
    metrics.update(
        params_total=counts.total,
        params_active=counts.active,
        params_router=counts.router,
        params_embedding=counts.embedding,
        chance=task.chance,
        train_seconds=time.perf_counter() - start,
    )
    if hasattr(task, "rejected"):
        metrics["rejected_train_graphs"] = task.rejected
        metrics["train_graphs_drawn"] = task.drawn
    return metrics
