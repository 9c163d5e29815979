"""Continuous interpolation between attribute anchors by scaling LoRA adapters in place.

With one adapter per pole, dW_i+ and dW_i- for attribute i, the model's update is

    dW = sum_i lambda_i [alpha_i dW_i+ + (1 - alpha_i) dW_i-],   lambda on the simplex, alpha in R,

(alpha outside [0, 1] extrapolates). Every adapter is loaded once and all are active together;
a LoRA layer then computes ``base(x) + sum_k c_k s_k B_k A_k x`` with ``s_k`` the adapter's own
scale, so setting the multipliers c_{i+} = lambda_i alpha_i and c_{i-} = lambda_i (1 - alpha_i)
applies exactly dW above. Moving a slider changes 2 x (attributes) numbers per layer: no
retraining, no reloading, no merge. (peft's ``add_weighted_adapter`` "linear" / "svd" modes would
not give this sum exactly; scaling the adapters does.)
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path

import torch

from .anchors import adapter_name, anchors_dir, chat_replies, neutral_prompt
from .scorers import ATTRIBUTES, score_all


def coefficients(alphas: Mapping[str, float], lambdas: Mapping[str, float]) -> dict[str, float]:
    """The multiplier of every pole adapter: lambda_i alpha_i and lambda_i (1 - alpha_i).

    ``lambdas`` are normalised to the simplex; ValueError if any is negative or all are 0.
    Attributes missing from ``alphas`` sit at alpha = 0.5 (the middle of their two poles).
    """
    unknown = (set(alphas) | set(lambdas)) - set(ATTRIBUTES)
    if unknown:
        raise ValueError(f"unknown attribute(s) {sorted(unknown)}; choose from {', '.join(ATTRIBUTES)}")
    if any(v < 0 for v in lambdas.values()) or sum(lambdas.values()) <= 0:
        raise ValueError(f"lambda must be non-negative and not all zero, got {dict(lambdas)}")
    total = sum(lambdas.values())
    out = {}
    for attribute, (high, low) in ATTRIBUTES.items():
        weight = lambdas.get(attribute, 0.0) / total
        alpha = float(alphas.get(attribute, 0.5))
        out[adapter_name(attribute, high)] = weight * alpha
        out[adapter_name(attribute, low)] = weight * (1.0 - alpha)
    return out


class SliderModel:
    """SmolLM2-135M-Instruct with every pole adapter of ``folder`` loaded and active together."""

    def __init__(self, folder: Path, attributes: tuple[str, ...] | None = None):
        from peft import PeftModel

        from ..llm.models import DEFAULT_MODEL, load_model

        self.attributes = tuple(
            attributes or [a for a in ATTRIBUTES if (Path(folder) / adapter_name(a, ATTRIBUTES[a][0])).is_dir()]
        )
        if not self.attributes:
            raise FileNotFoundError(f"no trained adapters in {folder}; run `discolab interp train` first")
        names = [adapter_name(a, pole) for a in self.attributes for pole in ATTRIBUTES[a]]
        base, self.tokenizer = load_model.__wrapped__(DEFAULT_MODEL, "float32")  # private: peft wraps it
        self.model = PeftModel.from_pretrained(base, Path(folder) / names[0], adapter_name=names[0])
        for name in names[1:]:
            self.model.load_adapter(Path(folder) / name, adapter_name=name)
        self.model.base_model.set_adapter(names, inference_mode=True)
        self.model.eval()
        self.names = names
        self.set(alphas={}, lambdas={a: 1.0 for a in self.attributes})

    def lora_layers(self):
        from peft.tuners.lora import LoraLayer

        return [m for m in self.model.modules() if isinstance(m, LoraLayer)]

    def set(self, alphas: Mapping[str, float], lambdas: Mapping[str, float] | None = None) -> dict[str, float]:
        """Set the sliders; returns the multiplier now on each adapter."""
        lambdas = lambdas if lambdas is not None else {a: 1.0 for a in self.attributes}
        missing = [a for a in list(alphas) + [a for a, w in lambdas.items() if w > 0] if a not in self.attributes]
        if missing:
            raise ValueError(f"no adapters for {sorted(set(missing))}; trained: {', '.join(self.attributes)}")
        coefficient = coefficients(alphas, lambdas)
        for layer in self.lora_layers():
            for name in self.names:
                layer.set_scale(name, coefficient[name])  # scaling = multiplier x lora_alpha / r
        self.coefficients = {n: coefficient[n] for n in self.names}
        return self.coefficients

    def generate(
        self, prompts: list[str], max_new_tokens: int = 60, seed: int | None = None, adapters: bool = True
    ) -> list[str]:
        """Replies to neutral-instruction or free prompts: greedy if ``seed`` is None, else sampled;
        ``adapters`` False: the base model alone (the baseline of simply instructing it)."""
        chats = [[{"role": "user", "content": p}] for p in prompts]
        sampling = {"do_sample": False} if seed is None else {"do_sample": True, "temperature": 0.8, "top_p": 0.95}
        if seed is not None:
            torch.manual_seed(seed)
        with nullcontext() if adapters else self.model.disable_adapter():
            return chat_replies(self.model, self.tokenizer, chats, max_new_tokens, sampling)

    @torch.inference_mode()
    def base_perplexity(self, prompts: list[str], replies: list[str]) -> list[float]:
        """Fluency: the perplexity of each reply under the base model (adapters off), as the answer
        to its prompt, exp(mean negative log-likelihood of the reply's tokens); NaN for an empty reply."""
        out = []
        with self.model.disable_adapter():
            for prompt, reply in zip(prompts, replies):
                chat = [{"role": "user", "content": prompt}]
                context = self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
                context_ids = self.tokenizer(context, add_special_tokens=False)["input_ids"]
                reply_ids = self.tokenizer(reply, add_special_tokens=False)["input_ids"]
                if not reply_ids:
                    out.append(float("nan"))
                    continue
                logits = self.model(input_ids=torch.tensor([context_ids + reply_ids])).logits[0]
                predicted = logits[len(context_ids) - 1 : -1]  # the positions that predict the reply's tokens
                nll = torch.nn.functional.cross_entropy(predicted, torch.tensor(reply_ids))
                out.append(float(nll.exp()))
        return out


def topic_prompt(topic: str) -> str:
    return neutral_prompt(topic)[0]["content"]


@lru_cache(maxsize=2)
def slider_model(seed: int = 0) -> SliderModel:
    """The trained anchors of ``seed`` from the data directory, loaded once per process."""
    folder = anchors_dir(seed)
    if not (folder / "anchors.json").is_file():
        raise FileNotFoundError(
            f"no trained anchors for seed {seed} in {folder}; run `discolab interp train --seed {seed}`"
        )
    return SliderModel(folder)


def steer(
    prompt: str,
    alphas: Mapping[str, float],
    lambdas: Mapping[str, float] | None = None,
    seed: int | None = None,
    anchors_seed: int = 0,
    max_new_tokens: int = 60,
) -> dict:
    """Generate at the given sliders and score the reply with every scorer: the one entry point of
    the CLI, the agent tool and the dashboard."""
    model = slider_model(anchors_seed)
    multipliers = model.set(alphas, lambdas)
    text = model.generate([prompt], max_new_tokens=max_new_tokens, seed=seed)[0]
    scores = {k: float(v[0]) for k, v in score_all([text]).items()}
    return {
        "prompt": prompt,
        "alphas": dict(alphas),
        "lambdas": dict(lambdas or {}),
        "seed": seed,
        "anchors_seed": anchors_seed,
        "multipliers": multipliers,
        "text": text,
        "scores": scores,
    }


def parse_sliders(items: list[str] | None, what: str) -> dict[str, float]:
    """``["sentiment=0.8", ...]`` -> ``{"sentiment": 0.8}``; ValueError naming a bad item."""
    out = {}
    for item in items or []:
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{what} {item!r}: write ATTRIBUTE=NUMBER, e.g. sentiment=0.8") from None
        if name.strip() not in ATTRIBUTES:
            raise ValueError(f"{what} {item!r}: unknown attribute; choose from {', '.join(ATTRIBUTES)}")
    return out
