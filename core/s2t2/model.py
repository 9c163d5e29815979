"""The protein language models compared, all on the body of the embedded text LM (SmolLM2-135M).

Every model reads a window of residues as ``[start] + encode(window)`` and returns log-probs of
the next token at every position, so one loss / bits-per-character routine serves all of them
(:mod:`.train`). Body adaptation, where a condition has one, is LoRA on every projection.

- :class:`SourceTokenLM`: the text LM as it is, with its own tokenizer and 49k-token output
  (``head="full"``), or with its next-token distribution renormalised over the residue tokens
  (``head="residue-tokens"``, below): the control for S2T2's head, which renormalises over the
  source tokens seen on proteins instead of spreading mass over the whole vocabulary.
- :class:`FreshTokenLM`: the protein BPE tokenizer with a fresh embedding table (tied output
  head, as in the source model), trained from scratch together with the body's LoRA.
- :class:`S2T2LM`: the protein BPE tokenizer translated through the sparse plan P
  (:mod:`.plan`): target embedding e_t = sum_s P[t, s] e_s, and the next target token's
  probability p(t | x) = sum_s q(s | x) P[t, s] / sum_t' P[t', s], where q is the source model's
  next-token distribution restricted to the source tokens P is defined on (the column-normalised
  plan is the conditional distribution of a target token given a source token; a source token
  with no mass in P loses its probability and p is renormalised). ``head="logits"`` instead
  scores target t by sum_s P[t, s] z_s, the P-weighted source logits (the output head
  translated like the input embeddings), and normalises over the target vocabulary.

Source vocabulary restriction: P's columns are the SmolLM2 tokens that occur when SmolLM2
tokenizes the training proteins (615 of 49,152 on the default split): other tokens never appear
on this domain, and the restriction keeps P at [target vocabulary x 615].

Residue tokens (the source models' ``head="residue-tokens"``): the SmolLM2 tokens spelled only
with residue letters of the training proteins, R (755 of 49,152 on the default split; the 615
above are among them). The head is q_R(s | x) = q(s | x) / sum_{s' in R} q(s' | x) for s in R and
0 elsewhere. R and not the 615 themselves: 2 test and 6 validation tokens (``NAME``, ``GRAPH``,
...) do not occur in the training proteins, and a head over the 615 would give them probability
zero. S2T2 needs no such care: its output is over the protein BPE, which spells every protein.
"""

from __future__ import annotations

import torch
from torch import nn

from .plan import SparsePlan, column_masses

HEADS = ("probabilities", "logits")  # S2T2's head
SOURCE_HEADS = ("full", "residue-tokens")  # the source-tokenizer models' head
LOG_ZERO = -69.0  # ln 1e-30: the log-probability of a token outside a renormalised head (finite, so 0 x it is 0)
SOURCE_START = "<|endoftext|>"  # SmolLM2's pretraining document separator: every window starts with it
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load_body(lora_rank: int | None, seed: int):
    """(causal LM, source tokenizer): a private float32 copy, frozen, with LoRA adapters if a rank is given."""
    from ..llm.models import DEFAULT_MODEL, load_model

    causal_lm, tokenizer = load_model.__wrapped__(DEFAULT_MODEL, "float32")  # private: training edits it
    for parameter in causal_lm.parameters():
        parameter.requires_grad_(False)
    if lora_rank:
        add_lora(causal_lm, lora_rank, seed)
    return causal_lm, tokenizer


def add_lora(causal_lm, rank: int, seed: int) -> None:
    """LoRA (alpha = 2 rank) on every attention and MLP projection, in place."""
    from peft import LoraConfig, inject_adapter_in_model

    torch.manual_seed(seed)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=LORA_TARGETS)
    inject_adapter_in_model(config, causal_lm)


class SourceTokenLM(nn.Module):
    """The text LM on proteins with its own tokenizer (zero-shot, or with the body's LoRA).

    ``vocabulary``: the token ids its next-token distribution is renormalised over (log-probability
    ``LOG_ZERO`` elsewhere); None, the whole vocabulary.
    """

    def __init__(self, causal_lm, tokenizer, vocabulary: torch.Tensor | None = None):
        super().__init__()
        self.causal_lm = causal_lm
        self.tokenizer = tokenizer
        self.start_id = tokenizer.convert_tokens_to_ids(SOURCE_START)
        self.register_buffer("vocabulary", vocabulary)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.causal_lm(input_ids=ids, attention_mask=mask).logits.float()
        if self.vocabulary is None:
            return logits.log_softmax(-1)
        log_probs = torch.full_like(logits, LOG_ZERO)
        log_probs[..., self.vocabulary] = logits[..., self.vocabulary].log_softmax(-1)
        return log_probs


class _TargetTokenLM(nn.Module):
    """Shared by the models that read the protein BPE tokenizer: embeddings in, tied scores out."""

    def __init__(self, causal_lm, target_tokenizer):
        super().__init__()
        self.causal_lm = causal_lm
        self.target_tokenizer = target_tokenizer

    def encode(self, text: str) -> list[int]:
        return self.target_tokenizer.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.target_tokenizer.decode(ids)

    def hidden(self, embeddings: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.causal_lm.model(inputs_embeds=embeddings, attention_mask=mask).last_hidden_state


class FreshTokenLM(_TargetTokenLM):
    """Protein tokens with a fresh embedding table, initialised like the source's (normal, its std)."""

    def __init__(self, causal_lm, target_tokenizer, seed: int):
        super().__init__(causal_lm, target_tokenizer)
        source = causal_lm.get_input_embeddings().weight
        generator = torch.Generator().manual_seed(seed)
        init = torch.randn(target_tokenizer.get_vocab_size(), source.shape[1], generator=generator) * source.std()
        self.embedding = nn.Parameter(init)
        self.start_id = target_tokenizer.token_to_id("<eos>")

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.hidden(self.embedding[ids], mask)
        return (h @ self.embedding.T).float().log_softmax(-1)


class S2T2LM(_TargetTokenLM):
    """Protein tokens translated through the sparse plan P over the source tokens ``source_ids``."""

    def __init__(
        self,
        causal_lm,
        target_tokenizer,
        source_tokenizer,
        train_sequences: list[str],
        seed: int,
        iterations: int = 10,
        marginal: str = "frequency",
        head: str = "probabilities",
    ):
        super().__init__(causal_lm, target_tokenizer)
        if head not in HEADS:
            raise ValueError(f"unknown S2T2 head {head!r}; choose from {', '.join(HEADS)}")
        self.head = head
        targets = target_tokenizer.get_vocab_size()
        source_ids, source_counts = source_vocabulary(source_tokenizer, train_sequences)
        self.register_buffer("source_ids", source_ids)
        self.source_tokens = source_tokenizer.convert_ids_to_tokens(source_ids.tolist())
        self.plan = SparsePlan(targets, column_masses(source_counts, targets, marginal), iterations, seed=seed)
        start = causal_lm.get_input_embeddings().weight[source_tokenizer.convert_tokens_to_ids(SOURCE_START)]
        self.register_buffer("start_embedding", start.detach().clone())
        self.start_id = targets  # one row past the target vocabulary: the source's document separator

    def source_embeddings(self) -> torch.Tensor:
        return self.causal_lm.get_input_embeddings().weight[self.source_ids]

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", enabled=False):  # the plan and the output mixture stay in float32
            plan = self.plan()
            table = torch.cat([plan @ self.source_embeddings(), self.start_embedding[None]])
        h = self.hidden(table[ids], mask)
        with torch.autocast("cpu", enabled=False):
            source_head = self.causal_lm.get_output_embeddings().weight[self.source_ids]
            if self.head == "logits":  # the target head is the P-weighted source head
                return (h.float() @ (plan @ source_head).T).log_softmax(-1)
            q = (h.float() @ source_head.T).softmax(-1)
            conditional = plan / plan.sum(0, keepdim=True).clamp_min(1e-12)  # P(target | source), columnwise
            p = q @ conditional.T
            return (p / p.sum(-1, keepdim=True)).clamp_min(1e-30).log()


def source_vocabulary(tokenizer, sequences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, counts) of the source tokens that occur when ``tokenizer`` encodes ``sequences``, by id."""
    ids = torch.cat([torch.tensor(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in sequences])
    unique, counts = torch.unique(ids, return_counts=True)
    return unique, counts


def residue_token_ids(tokenizer, sequences: list[str]) -> torch.Tensor:
    """The ids (ascending) of ``tokenizer``'s tokens spelled only with residue letters of ``sequences``."""
    letters = set("".join(sequences))
    return torch.tensor(sorted(i for token, i in tokenizer.get_vocab().items() if token and set(token) <= letters))
