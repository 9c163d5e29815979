"""Reproduction: S2T2 against the four other ways to put the text LM on protein sequences.

One cell per (condition, seed): build, train within the residue budget, score bits per character
on the test windows (:mod:`discolab.core.s2t2.conditions`). Rows: the scalar metrics (step 0) and
the training loss per step (metric ``loss``). The learned plans of the S2T2 conditions are saved
under DATA_HOME/s2t2/<condition>-seed-<seed>/plan.pt for the dashboard.

Report: bits per character per condition (mean, sd and each seed), characters per token of each
tokenizer (also the protein BPE at several vocabulary sizes), nonzeros per row of P, and the
claim checks: S2T2 < fresh embeddings, and S2T2 against finetuning under the source tokenizer.

Run: ``python -m discolab.experiments.s2t2_eval [--seeds 3] [--residues 80000]`` (6-20 min per
trained cell on two shared CPU cores, about 2.5 h for 3 seeds; done cells are skipped on a rerun).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields

import pandas as pd
from discolab.core.errors import DiscolabError
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB
from discolab.core.s2t2.conditions import (
    CONDITIONS,
    S2T2Config,
    plan_dir,
    prepared_data,
    save_plan,
    train_condition,
)
from discolab.core.s2t2.model import S2T2LM
from discolab.core.s2t2.tokenizer import characters_per_token, train_protein_bpe
from discolab.experiments.sweep import Sweep, add_sweep_arguments, grid_configs, run_sweep

EXPERIMENT = "s2t2-compare"
VOCAB_SIZES = (128, 256, 512, 1024, 2048)


def compare_cell(config: dict, seed: int) -> list[dict]:
    """Train and score one condition; the plan is saved for S2T2 conditions."""
    condition = config["condition"]
    settings = S2T2Config(**{k: v for k, v in config.items() if k != "condition"})
    model, metrics = train_condition(condition, settings, seed)
    if isinstance(model, S2T2LM):
        save_plan(model, settings, seed, metrics, plan_dir(condition, seed))
    losses = metrics.pop("losses")
    return [{"metric": k, "value": float(v), "step": 0} for k, v in metrics.items()] + [
        {"metric": "loss", "value": loss, "step": step} for step, loss in enumerate(losses)
    ]


def sweep(seeds: list[int], config: S2T2Config, conditions=CONDITIONS) -> Sweep:
    configs = grid_configs({"condition": list(conditions)}, **asdict(config))
    return Sweep(EXPERIMENT, compare_cell, configs, seeds, setting_keys=["condition", "residues", "vocab_size"])


def summary(db: RunsDB) -> pd.DataFrame:
    """Per condition: test BPC (mean, sd, per seed), compression, sparsity of P."""
    table = db.wide(EXPERIMENT)
    table = table[table["step"] == 0]
    rows = []
    for condition in CONDITIONS:
        part = table[table["condition"] == condition]
        if part.empty:
            continue
        row = {
            "condition": condition,
            "seeds": len(part),
            "test_bpc": part["test_bpc"].mean(),
            "test_bpc_sd": part["test_bpc"].std(ddof=1) if len(part) > 1 else 0.0,
            "per_seed": " ".join(f"{v:.3f}" for v in part.sort_values("seed")["test_bpc"]),
            "chars_per_token": part["chars_per_token"].mean(),
            "trainable_parameters": int(part["trainable_parameters"].mean()),
            "minutes": part["train_seconds"].mean() / 60,
        }
        if "plan_nonzeros_mean" in part and part["plan_nonzeros_mean"].notna().any():
            row["P_nonzeros_per_row"] = part["plan_nonzeros_mean"].mean()
            row["P_sources"] = int(part["plan_sources"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def compression_table(split_seed: int = 0, window: int = 256) -> pd.DataFrame:
    """Residues per token on the test proteins: the protein BPE at several sizes and the source tokenizer."""
    from discolab.core.llm.models import DEFAULT_MODEL, load_model

    sequences = prepared_data(512, window, split_seed)["sequences"]
    rows = [
        {
            "tokenizer": f"protein BPE, vocabulary {size}",
            "chars_per_token": characters_per_token(train_protein_bpe(sequences["train"], size), sequences["test"]),
        }
        for size in VOCAB_SIZES
    ]
    _, tokenizer = load_model(DEFAULT_MODEL, "float32")
    tokens = sum(len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in sequences["test"])
    rows.append(
        {"tokenizer": "SmolLM2 (source, 49,152)", "chars_per_token": sum(len(s) for s in sequences["test"]) / tokens}
    )
    return pd.DataFrame(rows)


def plot(db: RunsDB, path) -> None:
    """Training loss (bits per residue, smoothed) per condition, and test BPC per seed."""
    from matplotlib.figure import Figure

    table = db.wide(EXPERIMENT)
    fig = Figure(figsize=(11, 3.8))
    curves, bars = fig.subplots(1, 2)
    for condition in CONDITIONS:
        part = table[(table["condition"] == condition) & table["loss"].notna()]
        if part.empty:
            continue
        curve = part.groupby("step")["loss"].mean().rolling(10, min_periods=1).mean()
        curves.plot(curve.index, curve.values, label=condition)
    curves.set_xlabel("step")
    curves.set_ylabel("training loss (bits per residue)")
    curves.legend(fontsize=8)
    finals = table[table["step"] == 0]
    for k, condition in enumerate(CONDITIONS):
        values = finals[finals["condition"] == condition]["test_bpc"]
        bars.scatter([k] * len(values), values, color=f"C{k}")
        if len(values):
            bars.hlines(values.mean(), k - 0.3, k + 0.3, color=f"C{k}")
    bars.set_xticks(range(len(CONDITIONS)), CONDITIONS, rotation=20, fontsize=8)
    bars.set_ylabel("test bits per character")
    fig.suptitle("S2T2 vs the alternatives on held-out proteins (same residue budget)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def paired_differences(db: RunsDB) -> list[str]:
    """The claim checks, paired by seed: S2T2 (and S2T2 + LoRA) minus fresh embeddings and minus
    finetuning under the source tokenizer; negative = S2T2 better."""
    table = db.wide(EXPERIMENT)
    by_seed = table[table["step"] == 0].pivot_table(index="seed", columns="condition", values="test_bpc")
    lines = []
    for ours in ("s2t2", "s2t2-finetune"):
        for other in ("fresh-embeddings", "source-finetune"):
            if ours not in by_seed or other not in by_seed:
                continue
            difference = (by_seed[ours] - by_seed[other]).dropna()
            if difference.empty:
                continue
            sd = difference.std(ddof=1) if len(difference) > 1 else float("nan")
            wins = int((difference < 0).sum())
            lines.append(
                f"{ours} - {other}: {difference.mean():+.3f} bits/char (sd {sd:.3f}; {ours} lower in "
                f"{wins}/{len(difference)} seeds)"
            )
    return lines


def report(db: RunsDB) -> str:
    table = summary(db)
    path = data_path("results", "s2t2_compare.png")
    plot(db, path)
    lines = [
        "Bits per character on the test windows (lower is better):",
        "",
        table.round(3).to_markdown(index=False),
        "",
        "Compression (residues per token, test proteins):",
        "",
        compression_table().round(3).to_markdown(index=False),
        "",
    ]
    lines += paired_differences(db)
    lines.append(f"plot: {path}")
    return "\n".join(lines)


def add_config_arguments(parser) -> None:
    """One flag per :class:`S2T2Config` field (``--vocab-size``, ``--residues``, ...)."""
    for f in fields(S2T2Config):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)


def config_from_args(args) -> S2T2Config:
    try:
        return S2T2Config(**{f.name: getattr(args, f.name) for f in fields(S2T2Config)})
    except ValueError as err:
        raise DiscolabError(str(err)) from None


def add_arguments(parser) -> None:
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    add_config_arguments(parser)
    parser.add_argument("--report-only", action="store_true", help="only print the report of the stored results")
    add_sweep_arguments(parser)


def run(args) -> int:
    db = RunsDB(args.db)
    if not args.report_only:
        experiment = sweep(list(range(args.seeds)), config_from_args(args), args.conditions)
        print(run_sweep(experiment, db, args.executor, args.workers, args.address).line())
    print(report(db))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
