"""A small causal transformer whose feed-forward blocks are dense or a token-choice top-k mixture of experts.

One readable file in the spirit of nanoGPT: pre-norm blocks (causal self-attention, then a
feed-forward block), learned position embeddings, an untied output head, no biases (so parameter
counts are exact products of the sizes).

Mixture of experts (Shazeer et al. 2017; GShard, Lepikhin et al. 2020; Switch, Fedus et al. 2022).
For a token x (d_model) and E experts FFN_i(x) = W2_i gelu(W1_i x), each of the dense FFN's shape:

    p(x) = softmax(W_r x)                         router probabilities over the E experts
    S(x) = the top-k experts by p(x)               token choice: each token picks k experts
    y(x) = sum_{i in S(x)} g_i(x) FFN_i(x),        g_i = p_i                 (k = 1, Switch)
                                                   g_i = p_i / sum_S p_j     (k > 1, renormalised)

so that with k = 1 a token meets exactly one expert and the active parameters per token equal the
dense model's plus the d_model x E router.

Load balancing (Switch eq. 4 / GShard): with T tokens in the batch,

    f_i = (1 / (T k)) #{(token, slot) routed to expert i}     fraction of assignments (not differentiable)
    P_i = (1 / T) sum_tokens p_i(x)                           mean router probability (differentiable)
    L_aux = E sum_i f_i P_i

L_aux = 1 when routing is uniform (f_i = P_i = 1/E) and, when f and P are ordered alike (as argmax
routing makes them), L_aux >= 1 by Chebyshev's sum inequality, up to E when every token goes to one
expert. The training loss adds ``aux_loss_coef * L_aux`` summed over the MoE layers (Switch: 0.01).

Capacity. Each expert takes at most C = ceil(capacity_factor * T * k / E) assignments per batch;
assignments are served in priority order (every token's first choice before any second choice,
then by position in the batch, as GShard), and the ones past C are *dropped*: the expert adds
nothing for that token, whose representation passes on unchanged through the residual connection.
``capacity_factor=None`` is the no-capacity (dropless) option: every assignment is served.
Each MoE layer keeps the statistics of its last forward pass (:class:`ExpertLoad`): assignments per
expert, dropped assignments, the auxiliary loss.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from discolab.core.errors import DiscolabError


@dataclass
class TransformerConfig:
    """Sizes of the model. ``n_experts=None`` is a dense FFN; an integer E >= 1 is a top-k MoE of E experts
    each of the dense FFN's shape (d_model -> d_ff -> d_model)."""

    vocab_size: int
    block_size: int
    d_model: int = 32
    n_layers: int = 2
    n_heads: int = 2
    d_ff: int | None = None  # default 4 * d_model
    n_experts: int | None = None
    top_k: int = 1
    capacity_factor: float | None = 1.25
    aux_loss_coef: float = 0.01

    def __post_init__(self):
        if self.d_ff is None:
            self.d_ff = 4 * self.d_model
        for name in ("vocab_size", "block_size", "d_model", "n_layers", "n_heads", "d_ff"):
            if getattr(self, name) < 1:
                raise DiscolabError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise DiscolabError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if self.n_experts is not None:
            if self.n_experts < 1:
                raise DiscolabError(f"n_experts must be None (dense) or at least 1, got {self.n_experts}")
            if not 1 <= self.top_k <= self.n_experts:
                raise DiscolabError(f"top_k must be between 1 and n_experts ({self.n_experts}), got {self.top_k}")
        if self.capacity_factor is not None and self.capacity_factor <= 0:
            raise DiscolabError(f"capacity_factor must be positive or None (no capacity), got {self.capacity_factor}")

    @property
    def is_moe(self) -> bool:
        return self.n_experts is not None

    def as_dict(self) -> dict:
        return asdict(self)


def load_balancing_loss(router_probs: torch.Tensor, expert_index: torch.Tensor, n_experts: int) -> torch.Tensor:
    """Switch / GShard auxiliary loss E * sum_i f_i P_i (module docstring).

    ``router_probs``: (T, E) softmax probabilities; ``expert_index``: (T, k) chosen experts.
    1 at uniform routing, larger when routing concentrates on few experts.
    """
    assignments = F.one_hot(expert_index, n_experts).float().sum(dim=1)  # (T, E): slots per expert per token
    fraction_routed = assignments.mean(dim=0) / expert_index.shape[1]  # f_i, sums to 1
    mean_prob = router_probs.mean(dim=0)  # P_i, sums to 1
    return n_experts * torch.sum(fraction_routed * mean_prob)


@dataclass
class ExpertLoad:
    """Routing of one MoE layer's last forward pass."""

    assignments: torch.Tensor  # (E,) assignments each expert received (before dropping)
    dropped: int  # assignments past capacity
    total: int  # T * k
    aux_loss: float

    @property
    def fractions(self) -> torch.Tensor:
        return self.assignments.float() / max(1, self.total)

    def summary(self) -> dict:
        return load_summary(self.assignments, self.dropped)


def load_summary(assignments: torch.Tensor, dropped: int = 0) -> dict:
    """Balance of a load vector: entropy / log E (1 = uniform, 0 = one expert takes all), the largest
    expert's share (1/E uniform, 1 collapsed), and the fraction of assignments dropped."""
    counts = assignments.double()
    total = counts.sum().item()
    n = counts.numel()
    if total == 0:
        return {"load_entropy": float("nan"), "max_load_fraction": float("nan"), "dropped_fraction": 0.0}
    share = counts / total
    nonzero = share[share > 0]
    entropy = -(nonzero * nonzero.log()).sum().item()
    return {
        "load_entropy": entropy / math.log(n) if n > 1 else 1.0,
        "max_load_fraction": share.max().item(),
        "dropped_fraction": dropped / total,
    }


class DenseFFN(nn.Module):
    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.up = nn.Linear(d_model, d_ff, bias=False)
        self.down = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.down(F.gelu(self.up(x))), x.new_zeros(())


class MoEFFN(nn.Module):
    """Token-choice top-k mixture of E FFN experts with a linear router and an optional capacity."""

    def __init__(self, d_model: int, d_ff: int, n_experts: int, top_k: int, capacity_factor: float | None):
        super().__init__()
        self.n_experts, self.top_k, self.capacity_factor = n_experts, top_k, capacity_factor
        self.router = nn.Linear(d_model, n_experts, bias=False)
        self.up = nn.Parameter(torch.empty(n_experts, d_model, d_ff))  # expert i: x @ up[i] -> gelu -> @ down[i]
        self.down = nn.Parameter(torch.empty(n_experts, d_ff, d_model))
        self.last_load: ExpertLoad | None = None

    def capacity(self, n_tokens: int) -> int | None:
        if self.capacity_factor is None:
            return None
        return math.ceil(self.capacity_factor * n_tokens * self.top_k / self.n_experts)

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router probabilities (T, E), chosen experts (T, k) and their gates (T, k) for tokens x (T, d)."""
        probs = F.softmax(self.router(x), dim=-1)
        gate, expert_index = probs.topk(self.top_k, dim=-1)
        if self.top_k > 1:
            gate = gate / gate.sum(dim=-1, keepdim=True)
        return probs, expert_index, gate

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])
        n_tokens = tokens.shape[0]
        probs, expert_index, gate = self.route(tokens)
        aux = load_balancing_loss(probs, expert_index, self.n_experts)
        # Assignments in priority order: slot 0 (first choices) of every token, then slot 1, ...
        flat_expert = expert_index.t().reshape(-1)  # (k T,)
        flat_token = torch.arange(n_tokens, device=x.device).repeat(self.top_k)
        flat_gate = gate.t().reshape(-1)
        one_hot = F.one_hot(flat_expert, self.n_experts)
        position = ((one_hot.cumsum(dim=0) - 1) * one_hot).sum(dim=1)  # rank of each assignment at its expert
        assignments = one_hot.sum(dim=0)
        capacity = self.capacity(n_tokens)
        if capacity is None:
            capacity = int(assignments.max().item())
        keep = position < capacity
        self.last_load = ExpertLoad(
            assignments.detach().cpu(), int((~keep).sum().item()), int(flat_expert.numel()), float(aux.detach())
        )
        expert, slot, token = flat_expert[keep], position[keep], flat_token[keep]
        # Dispatch into an (E, C, d) buffer, run every expert with one batched matmul, combine back.
        buffer = tokens.new_zeros(self.n_experts, capacity, shape[-1])
        buffer[expert, slot] = tokens[token]
        hidden = torch.bmm(F.gelu(torch.bmm(buffer, self.up)), self.down)
        out = torch.zeros_like(tokens)
        out.index_add_(0, token, hidden[expert, slot] * flat_gate[keep].unsqueeze(-1))
        return out.reshape(shape), aux


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        q, k, v = (t.view(batch, length, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.norm_attention = nn.LayerNorm(config.d_model, bias=False)
        self.attention = CausalSelfAttention(config)
        self.norm_ffn = nn.LayerNorm(config.d_model, bias=False)
        if config.is_moe:
            self.ffn = MoEFFN(config.d_model, config.d_ff, config.n_experts, config.top_k, config.capacity_factor)
        else:
            self.ffn = DenseFFN(config.d_model, config.d_ff)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x + self.attention(self.norm_attention(x))
        update, aux = self.ffn(self.norm_ffn(x))
        return x + update, aux


@dataclass
class ParameterCounts:
    """Total parameters, parameters a token meets (active) and the routers' share of both."""

    total: int
    active: int
    router: int
    embedding: int = field(default=0)

    def as_dict(self) -> dict:
        return asdict(self)


class Transformer(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.block_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model, bias=False)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init)
        depth_scale = 1 / math.sqrt(2 * config.n_layers)  # GPT-2: residual-stream outputs scaled by depth
        with torch.no_grad():
            for block in self.blocks:
                block.attention.proj.weight.mul_(depth_scale)
                ffn = block.ffn
                (ffn.down.weight if isinstance(ffn, DenseFFN) else ffn.down).mul_(depth_scale)

    @staticmethod
    def _init(module: nn.Module) -> None:
        """Unit-variance embeddings and weights ~ N(0, 1 / fan_in). At this width the nanoGPT default
        (std 0.02) leaves attention logits near 0 and the graph task on a loss plateau for thousands of steps."""
        if isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=1.0)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=module.in_features**-0.5)
        elif isinstance(module, MoEFFN):
            nn.init.normal_(module.up, std=module.up.shape[1] ** -0.5)
            nn.init.normal_(module.down, std=module.down.shape[1] ** -0.5)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, L, vocab) and the summed load-balancing loss of the MoE layers (0 for a dense model)."""
        length = ids.shape[1]
        if length > self.config.block_size:
            raise DiscolabError(f"sequence of {length} tokens exceeds block_size {self.config.block_size}")
        x = self.token_embedding(ids) + self.position_embedding(torch.arange(length, device=ids.device))
        aux_total = x.new_zeros(())
        for block in self.blocks:
            x, aux = block(x)
            aux_total = aux_total + aux
        return self.head(self.norm(x)), aux_total

    def moe_layers(self) -> list[MoEFFN]:
        return [block.ffn for block in self.blocks if isinstance(block.ffn, MoEFFN)]

    def parameter_counts(self) -> ParameterCounts:
        """Total; active = what one token meets (all but the unchosen experts: E - k of them per MoE layer)."""
        total = sum(p.numel() for p in self.parameters())
        router = sum(layer.router.weight.numel() for layer in self.moe_layers())
        unused = sum(
            (layer.n_experts - layer.top_k) * (layer.up[0].numel() + layer.down[0].numel())
            for layer in self.moe_layers()
        )
        embedding = self.token_embedding.weight.numel() + self.position_embedding.weight.numel()
        return ParameterCounts(total=total, active=total - unused, router=router, embedding=embedding)
