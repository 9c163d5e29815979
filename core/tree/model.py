"""The tiny causal transformer language model: the project's nanoGPT-style :class:`~discolab.core.moe.model.Transformer`
with dense feed-forward blocks.

Reused rather than copied: pre-norm blocks, learned positions, untied head, no biases and the fan-in
initialisation that core/moe documents (nanoGPT's std 0.02 leaves attention logits near 0 at these widths).
"""

from __future__ import annotations

import torch
from discolab.core.moe.model import Transformer, TransformerConfig

MODEL_KEYS = ("d_model", "n_layers", "n_heads", "d_ff")


DEFAULT_SIZES = {"d_model": 64, "n_layers": 2, "n_heads": 4}


def make_model(vocab_size: int, block_size: int, **sizes) -> Transformer:
    """A dense causal LM; ``sizes`` are :data:`MODEL_KEYS`, defaults :data:`DEFAULT_SIZES` (d_ff: 4 d_model)."""
    sizes = {**DEFAULT_SIZES, **sizes}
    return Transformer(TransformerConfig(vocab_size=vocab_size, block_size=block_size, n_experts=None, **sizes))


def logits(model: Transformer, ids: torch.Tensor) -> torch.Tensor:
    """Next-token logits (B, L, vocab); the dense model's auxiliary loss is always 0."""
    return model(ids)[0]
