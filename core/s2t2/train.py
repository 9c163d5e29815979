"""Windows of residues, the loss every model is trained on, and bits per character.

Bits per character makes models with different tokenizers comparable: a window w of n residues
is read as the model's tokens t_1..t_k (whatever k its tokenizer gives) after a start token, and

    BPC = sum_windows sum_i -log2 p(t_i | start, t_<i) / sum_windows n,

the code length of the residues themselves. Only the tokenizer's own segmentation is scored (the
canonical one), so this is an upper bound on -log2 p(w) summed over all segmentations, the same
convention for every model. Training minimises the same quantity per batch (nats per residue),
so each condition spends the same number of residues ("the token budget") whatever its
tokenizer's compression.

The reference every trained model has to beat is the unigram model of the residues
(:func:`unigram_bits_per_residue`): the amino-acid frequencies of the training proteins.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import torch


def windows(sequences: Sequence[str], length: int) -> list[str]:
    """Every sequence cut into consecutive windows of at most ``length`` residues."""
    if length < 1:
        raise ValueError(f"window length must be positive, got {length}")
    return [s[i : i + length] for s in sequences for i in range(0, len(s), length)]


def encode_windows(model, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) [B, 1 + longest]: the start token then each window's tokens, right-padded."""
    rows = []
    for text in texts:
        ids = model.encode(text)
        if model.decode(ids) != text:  # the characters scored must be exactly the window's
            raise ValueError(f"tokenizer does not round-trip {text[:30]!r}...")
        rows.append([model.start_id, *ids])
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), model.start_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = torch.tensor(row)
        mask[r, : len(row)] = 1
    return ids, mask


def window_nats(model, texts: Sequence[str]) -> torch.Tensor:
    """-ln p of each window under ``model`` (summed over its tokens), differentiable."""
    ids, mask = encode_windows(model, texts)
    log_probs = model(ids, mask)[:, :-1]
    targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, 0)  # padding may be an input-only id (a start token)
    token_nats = -log_probs.gather(-1, targets[..., None]).squeeze(-1)
    return (token_nats * mask[:, 1:]).sum(1)


@torch.no_grad()
def bits_per_character(model, texts: Sequence[str], batch_size: int = 8) -> float:
    """Code length of ``texts`` in bits per residue (see the module docstring)."""
    was_training = model.training
    model.eval()
    nats = sum(window_nats(model, texts[i : i + batch_size]).sum().item() for i in range(0, len(texts), batch_size))
    model.train(was_training)
    return nats / math.log(2) / sum(len(t) for t in texts)


def unigram_bits_per_residue(train: Sequence[str], evaluated: Sequence[str]) -> float:
    """Code length of ``evaluated`` in bits per residue under the training residue frequencies.

    Add-one smoothing over the alphabet A of the letters in ``train``: with n_a the count of
    letter a in ``train`` and N their total, p(a) = (n_a + 1) / (N + |A|), and

        bits per residue = -sum_a m_a log2 p(a) / sum_a m_a,     m_a the count of a in ``evaluated``.

    No context, no tokenizer: a model that does not beat this has not learned more than which
    residues are common.
    """
    counts, evaluated_counts = Counter("".join(train)), Counter("".join(evaluated))
    unknown = set(evaluated_counts) - set(counts)
    if unknown:
        raise ValueError(f"letters not in the training alphabet: {''.join(sorted(unknown))}")
    if not evaluated_counts:
        raise ValueError("nothing to evaluate")
    total, alphabet = sum(counts.values()), len(counts)
    bits = -sum(m * math.log2((counts[a] + 1) / (total + alphabet)) for a, m in evaluated_counts.items())
    return bits / sum(evaluated_counts.values())


def bigram_bits_per_residue(train: Sequence[str], evaluated: Sequence[str], prior_strength: float) -> float:
    """Code length of ``evaluated`` in bits per residue under a bigram of the training residues.

    Each residue b after a is coded with the training bigram counts, smoothed towards the add-one
    unigram p of :func:`unigram_bits_per_residue` by a Dirichlet prior of strength k:

        p(b | a) = (n_ab + k p(b)) / (n_a + k),     n_ab = count of "ab" in ``train``, n_a = sum_b n_ab,

    and a sequence's first residue with p alone (MacKay & Peto, 1995, "A hierarchical Dirichlet
    language model"). What one residue of context is worth at this amount of data.
    """
    if prior_strength <= 0:
        raise ValueError(f"the prior strength must be positive, got {prior_strength}")
    counts = Counter("".join(train))
    unknown = set("".join(evaluated)) - set(counts)
    if unknown:
        raise ValueError(f"letters not in the training alphabet: {''.join(sorted(unknown))}")
    total, alphabet = sum(counts.values()), len(counts)
    unigram = {a: (n + 1) / (total + alphabet) for a, n in counts.items()}
    pairs = Counter(pair for seq in train for pair in zip(seq, seq[1:]))
    contexts = Counter(seq[i] for seq in train for i in range(len(seq) - 1))
    bits, residues = 0.0, 0
    for seq in evaluated:
        if not seq:
            continue
        bits -= math.log2(unigram[seq[0]])
        for a, b in zip(seq, seq[1:]):
            bits -= math.log2((pairs[a, b] + prior_strength * unigram[b]) / (contexts[a] + prior_strength))
        residues += len(seq)
    if not residues:
        raise ValueError("nothing to evaluate")
    return bits / residues


def fit(
    model,
    texts: Sequence[str],
    residues: int,
    learning_rate: float,
    plan_learning_rate: float | None = None,
    batch_size: int = 8,
    seed: int = 0,
    bf16: bool = True,
    progress: Callable[[int, int, float], None] | None = None,
) -> list[float]:
    """Train the model's trainable parameters on ``texts`` until ``residues`` residues are seen.

    AdamW at a constant learning rate; windows drawn in seeded epoch-wise shuffles; the plan's
    scores (if any) get their own learning rate. bf16 autocast on CPUs that have it.
    ``progress(seen, residues, loss)`` is called after every step. Returns the loss (bits per
    residue) per step.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the model has no trainable parameters")
    plan = [p for n, p in named if n.startswith("plan.")]
    rest = [p for n, p in named if not n.startswith("plan.")]
    groups = [{"params": rest, "lr": learning_rate}] if rest else []
    if plan:
        groups.append({"params": plan, "lr": plan_learning_rate or learning_rate})
    optimizer = torch.optim.AdamW(groups, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    bf16 = bf16 and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    model.train()
    losses, seen, order = [], 0, []
    while seen < residues:
        if not order:
            order = list(rng.permutation(len(texts)))
        batch = [texts[order.pop()] for _ in range(min(batch_size, len(order)))]
        chars = sum(len(t) for t in batch)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = window_nats(model, batch).sum() / chars
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        seen += chars
        losses.append(loss.item() / math.log(2))
        if progress:
            progress(min(seen, residues), residues, losses[-1])
    model.eval()
    return losses
