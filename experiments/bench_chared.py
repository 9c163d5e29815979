"""Benchmark: CharED's decoding speed against each model decoding alone.

On one prompt (a HumanEval function header), greedy decoding of about ``--chars`` characters by:

1. each model alone, token by token with transformers' ``generate`` (KV cache): tokens/s and
   characters/s;
2. CharED with that model alone (weight 1): characters/s, i.e. the cost of deciding character by
   character and re-reading the text at every segment boundary;
3. the CharED ensemble at alpha = 0.5, with and without reusing each model's KV cache across
   segments.

Ratios are against the measurements of the same run. Run: ``discolab bench chared`` (or
``python -m discolab.experiments.bench_chared``); needs ``pip install 'discolab[gemma]'``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from discolab.core.chared.decode import CharEDModel, generate
from discolab.core.llm.models import load_model

PROMPT = 'def is_palindrome(text: str) -> bool:\n    """Return True if text reads the same backwards."""\n'


@torch.inference_mode()
def token_decoding(name: str, prompt: str, tokens: int) -> dict:
    """Greedy ``generate`` of ``tokens`` new tokens (no early stop)."""
    model, tokenizer = load_model(name, "float32")
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    options = {"attention_mask": torch.ones_like(ids), "do_sample": False, "pad_token_id": tokenizer.pad_token_id}
    model.generate(ids, max_new_tokens=2, **options)  # warm-up
    start = time.perf_counter()
    out = model.generate(ids, max_new_tokens=tokens, min_new_tokens=tokens, **options)
    seconds = time.perf_counter() - start
    text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    return {
        "tokens_per_second": tokens / seconds,
        "chars_per_second": len(text) / seconds,
        "chars_per_token": len(text) / tokens,
    }


def chared_decoding(models: list[CharEDModel], weights: list[float], prompt: str, chars: int) -> dict:
    generate(prompt, models, weights, max_chars=2)  # warm-up (and the token strings' sort)
    out = generate(prompt, models, weights, max_chars=chars)
    return {"chars_per_second": out.chars_per_second, "segments": len(out.segments), "chars": len(out.text)}


def run(models: tuple[str, str] = ("smollm2", "gemma3-270m"), chars: int = 80) -> dict:
    result = {"prompt": PROMPT, "chars": chars, "alone": {}, "chared_alone": {}}
    for name in models:
        tokens = token_decoding(name, PROMPT, 4)  # estimate chars per token, then time a like-for-like run
        result["alone"][name] = token_decoding(name, PROMPT, max(4, round(chars / tokens["chars_per_token"])))
        result["chared_alone"][name] = chared_decoding([CharEDModel(name)], [1.0], PROMPT, chars)
    ensemble = [CharEDModel(name) for name in models]
    result["chared_ensemble"] = chared_decoding(ensemble, [0.5, 0.5], PROMPT, chars)
    uncached = [CharEDModel(name, reuse_cache=False) for name in models]
    result["chared_ensemble_no_cache"] = chared_decoding(uncached, [0.5, 0.5], PROMPT, chars)
    return result


def report(result: dict) -> str:
    lines = ["decoder                          tokens/s   chars/s"]
    for name, alone in result["alone"].items():
        lines.append(
            f"{name + ' alone (generate)':32s} {alone['tokens_per_second']:8.1f}  {alone['chars_per_second']:8.1f}"
        )
    for name, chared in result["chared_alone"].items():
        lines.append(f"{'CharED, ' + name + ' only':32s} {'':8s}  {chared['chars_per_second']:8.1f}")
    ensemble, uncached = result["chared_ensemble"], result["chared_ensemble_no_cache"]
    lines.append(f"{'CharED ensemble alpha 0.5':32s} {'':8s}  {ensemble['chars_per_second']:8.1f}")
    lines.append(f"{'  same, no KV-cache reuse':32s} {'':8s}  {uncached['chars_per_second']:8.1f}")
    ratio = "ratio {:48s} {:.2f}".format
    for name, alone in result["alone"].items():
        own = result["chared_alone"][name]["chars_per_second"]
        lines.append(
            ratio(f"ensemble chars/s / {name} alone chars/s", ensemble["chars_per_second"] / alone["chars_per_second"])
        )
        lines.append(ratio(f"CharED({name}) chars/s / {name} alone chars/s", own / alone["chars_per_second"]))
    lines.append(
        ratio("ensemble with / without KV-cache reuse", ensemble["chars_per_second"] / uncached["chars_per_second"])
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs=2, default=["smollm2", "gemma3-270m"])
    parser.add_argument("--chars", type=int, default=80, help="characters to decode (default 80)")
    parser.add_argument("--json", action="store_true")


def main(args: argparse.Namespace) -> int:
    result = run(tuple(args.models), args.chars)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(main(parser.parse_args()))
