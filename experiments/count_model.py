"""A tiny decoder-only transformer (GPT-style, nanoGPT-like) for the count-task reproduction.

Pre-norm blocks: x + Attn(LN(x)), then x + MLP(LN(x)); causal multi-head self-attention through
``scaled_dot_product_attention``; learned absolute position embeddings, as in Zhou et al.'s
count-task setup. ``forward`` takes a per-row start position, so that training can place short
sequences anywhere in the block and every position embedding gets trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    block_size: int  # longest sequence (positions) the model has embeddings for
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 32
    positions: str = "learned"  # learned absolute embeddings, or "none" (NoPE: order from the causal mask only)

    @property
    def label(self) -> str:
        return f"{self.n_layer}x{self.n_embd}"


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q, k, v = (t.view(batch, length, self.n_head, width // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd), nn.GELU(), nn.Linear(4 * config.n_embd, config.n_embd)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd) if config.positions == "learned" else None
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (batch, length, vocab) for token ids (batch, length); row i's first token sits at
        position ``offsets[i]`` (default 0)."""
        x = self.wte(idx)
        if self.wpe is not None:
            positions = torch.arange(idx.shape[1], device=idx.device).unsqueeze(0)
            if offsets is not None:
                positions = positions + offsets.unsqueeze(1)
            x = x + self.wpe(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
