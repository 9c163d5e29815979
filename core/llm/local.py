"""A causal LM run in process by transformers (the default backend, fully offline).

P(yes) of a question is read from the next-token distribution right after the chat template's
assistant header::

    p_yes = sum_{t in Yes} p(t) / (sum_{t in Yes} p(t) + sum_{t in No} p(t))

where Yes/No are the first tokens of the answer's spellings ("Yes", "yes", " Yes", ...).

Many questions usually share a long prefix (instructions, domain context, the variable list)
and differ only in the last sentence. Their common token prefix is encoded once; its
key/value cache is then broadcast over each batch of suffixes, so that the cost per question
is that of its few suffix tokens attending over the cached prefix. Causal attention makes this
exact: a prefix token's keys and values do not depend on what follows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from ..errors import LLMError
from .base import TOKEN_PROBABILITY, Prompt, Usage, YesNo
from .models import DEFAULT_MODEL, load_model, resolve_dtype

YES_SPELLINGS = ("Yes", "yes", "YES", " Yes", " yes")
NO_SPELLINGS = ("No", "no", "NO", " No", " no")
MIN_SHARED_PREFIX = 16  # below this many shared tokens, caching is not worth a separate pass


class LocalBackend:
    """transformers model in this process.

    Parameters
    ----------
    model : model spec (see :mod:`discolab.core.llm.models`); default the embedded SmolLM2.
    dtype : ``auto`` (bf16 where the CPU has native bf16), ``float32``, ``bfloat16``.
    batch_size : questions per forward pass.
    reuse_prefix : encode the questions' common prefix once and reuse its KV cache.
    max_batch_tokens : bound on batch x (prefix + suffix) tokens, which sets the memory of a pass.
    """

    kind = "local"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        dtype: str = "auto",
        batch_size: int = 8,
        reuse_prefix: bool = True,
        max_batch_tokens: int = 65536,
    ):
        if batch_size < 1:
            raise LLMError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.dtype = dtype
        self.batch_size = batch_size
        self.reuse_prefix = reuse_prefix
        self.max_batch_tokens = max_batch_tokens
        self.usage = Usage()  # tokens read and generated (CachedBackend adds calls, hits and time)
        self._answer_ids: tuple[list[int], list[int]] | None = None
        self._head_weight: torch.Tensor | None = None

    # -- protocol ---------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        # The batching options change only speed, not answers, so they are not part of it.
        return {"kind": self.kind, "model": self.model, "dtype": str(resolve_dtype(self.dtype))}

    def score_yes_no(self, prompts: Sequence[Prompt], progress: bool = False) -> list[YesNo]:
        if not prompts:
            return []
        sequences = [self.encode(p) for p in prompts]
        self.usage.prompt_tokens += sum(map(len, sequences))  # as prompts; the shared prefix is computed once
        shared = shared_prefix_length(sequences) if self.reuse_prefix else 0
        if shared < MIN_SHARED_PREFIX:
            shared = 0
        log_probs = self._next_token_log_probs(sequences, shared, progress)
        yes_ids, no_ids = self.answer_token_ids()
        log_yes = torch.logsumexp(log_probs[:, yes_ids], dim=-1)
        log_no = torch.logsumexp(log_probs[:, no_ids], dim=-1)
        p_yes = torch.sigmoid(log_yes - log_no)
        mass = torch.exp(torch.logaddexp(log_yes, log_no))
        return [YesNo(float(p), TOKEN_PROBABILITY, float(m)) for p, m in zip(p_yes, mass)]

    @torch.inference_mode()
    def chat(self, messages: Prompt, *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        model, tokenizer = self._lm
        ids = torch.tensor([self.encode(messages)])
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_tokens,
                pad_token_id=tokenizer.pad_token_id,
                **sampling,
            )
        self.usage.prompt_tokens += ids.shape[1]
        self.usage.completion_tokens += out.shape[1] - ids.shape[1]
        return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` under the model's tokenizer (no chat template)."""
        return len(self._lm[1](text, add_special_tokens=False)["input_ids"])

    @property
    def context_tokens(self) -> int:
        """The model's context length (its position embeddings), which bounds a prompt."""
        return int(self._lm[0].config.max_position_embeddings)

    # -- pieces -----------------------------------------------------------------------------
    @property
    def _lm(self):
        return load_model(self.model, self.dtype)

    def encode(self, messages: Prompt) -> list[int]:
        """Token ids of the chat-formatted prompt, ending where the assistant's answer begins."""
        tokenizer = self._lm[1]
        return tokenizer(render_prompt(tokenizer, messages), add_special_tokens=not tokenizer.chat_template)[
            "input_ids"
        ]

    def answer_token_ids(self) -> tuple[list[int], list[int]]:
        """Token ids of the spellings of Yes and of No that are single tokens.

        A spelling split into pieces ("YES" -> "Y", "ES") is left out: its first piece also
        begins other words.
        """
        if self._answer_ids is None:
            tokenizer = self._lm[1]

            def single_ids(spellings):
                encoded = [tokenizer.encode(s, add_special_tokens=False) for s in spellings]
                return sorted({ids[0] for ids in encoded if len(ids) == 1})

            yes, no = single_ids(YES_SPELLINGS), single_ids(NO_SPELLINGS)
            if not yes or not no or set(yes) & set(no):
                raise LLMError(f"model {self.model!r}: no distinct single-token Yes/No answers; cannot score yes/no")
            self._answer_ids = (yes, no)
        return self._answer_ids

    @torch.inference_mode()
    def _next_token_log_probs(self, sequences: list[list[int]], shared: int, progress: bool) -> torch.Tensor:
        """log p(next token) after each sequence, with the first ``shared`` tokens encoded once."""
        model = self._lm[0]
        if _has_sliding_window(model.config):
            shared = 0  # a sliding-window cache would need per-layer masks; encode each prompt whole
        # Packing pays off behind a shared prefix; without one, a packed row's block mask would
        # waste attention quadratic in the whole batch, so whole prompts go in a padded batch.
        packed = shared > 0
        prefix_kv = None
        if shared:
            out = model.base_model(input_ids=torch.tensor([sequences[0][:shared]]), use_cache=True)
            prefix_kv = [(layer.keys, layer.values) for layer in out.cache.layers]
        suffixes = [s[shared:] for s in sequences]
        order = sorted(range(len(suffixes)), key=lambda i: -len(suffixes[i]))  # similar lengths together
        result = torch.empty(len(suffixes), model.get_output_embeddings().weight.shape[0])
        bar = tqdm(total=len(suffixes), desc="scoring", unit="q", disable=not progress, leave=False)
        start = 0
        while start < len(order):
            longest = len(suffixes[order[start]])
            size = max(1, min(self.batch_size, self.max_batch_tokens // (shared + longest)))
            batch = order[start : start + size]
            chunk = [suffixes[i] for i in batch]
            hidden = self._forward_packed(chunk, prefix_kv, shared) if packed else self._forward_padded(chunk)
            result[batch] = torch.log_softmax(self._output_head(hidden), dim=-1)
            bar.update(len(batch))
            start += size
        bar.close()
        return result

    def _forward_packed(self, suffixes, prefix_kv, shared: int) -> torch.Tensor:
        """Last-token hidden states of suffixes packed into one row after the cached prefix.

        The suffixes are laid end to end; a block-causal mask lets each token see the whole
        prefix and the earlier tokens of its own suffix only, and positions restart at
        ``shared`` for each suffix. No padding, and the prefix's keys and values are shared by
        every suffix instead of being copied once per row.
        """
        from transformers import DynamicCache

        model = self._lm[0]
        lengths = torch.tensor([len(s) for s in suffixes])
        ends = torch.cumsum(lengths, 0)
        segment = torch.repeat_interleave(torch.arange(len(suffixes)), lengths)
        offset = torch.arange(int(ends[-1])) - (ends - lengths)[segment]
        own = (segment[:, None] == segment[None, :]) & (offset[:, None] >= offset[None, :])
        mask = torch.cat([torch.ones(len(segment), shared, dtype=torch.bool), own], dim=1)
        ids = torch.tensor([t for s in suffixes for t in s])
        cache = DynamicCache(list(prefix_kv), config=model.config) if prefix_kv is not None else None
        hidden = model.base_model(
            input_ids=ids[None],
            attention_mask=mask[None, None],
            position_ids=(shared + offset)[None],
            cache=cache,
            use_cache=cache is not None,
        ).last_hidden_state[0]
        return hidden[ends - 1]

    def _forward_padded(self, suffixes) -> torch.Tensor:
        """Last-token hidden states of whole prompts in a right-padded batch."""
        model, tokenizer = self._lm
        width = max(len(s) for s in suffixes)
        ids = torch.full((len(suffixes), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(suffixes), width), dtype=torch.long)
        for row, s in enumerate(suffixes):
            ids[row, : len(s)] = torch.tensor(s)
            mask[row, : len(s)] = 1
        hidden = model.base_model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        return hidden[torch.arange(len(suffixes)), mask.sum(1) - 1]

    def _output_head(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits in float32: in bfloat16 they are rounded to steps of 1/8 near typical values,
        enough to move P(yes) by several points."""
        model = self._lm[0]
        if self._head_weight is None:
            self._head_weight = model.get_output_embeddings().weight.detach().float()
        logits = hidden.float() @ self._head_weight.T
        cap = getattr(model.config.get_text_config(), "final_logit_softcapping", None)
        return torch.tanh(logits / cap) * cap if cap else logits


def render_prompt(tokenizer, messages: Prompt) -> str:
    """The chat template's text up to the assistant's answer; for a base model, plain text then "Answer:"."""
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in messages) + "\nAnswer:"


def _has_sliding_window(config) -> bool:
    text = config.get_text_config()
    return "sliding_attention" in (getattr(text, "layer_types", None) or ()) or bool(
        getattr(text, "sliding_window", None) and getattr(text, "use_sliding_window", True)
    )


def shared_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix, leaving every sequence at least one token of its own."""
    first, shortest = sequences[0], min(len(s) for s in sequences)
    limit = shortest - 1
    for seq in sequences[1:]:
        n = 0
        while n < limit and seq[n] == first[n]:
            n += 1
        limit = n
    return max(limit, 0)


def estimate_tokens(sequences: Sequence[Sequence[int]]) -> dict[str, int]:
    """Tokens a scoring pass processes with and without the shared prefix reused."""
    shared = shared_prefix_length(sequences)
    total = sum(len(s) for s in sequences)
    return {"total": total, "shared": shared, "with_prefix_reuse": total - shared * (len(sequences) - 1)}


__all__ = ["LocalBackend", "estimate_tokens", "render_prompt", "shared_prefix_length"]
