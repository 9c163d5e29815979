"""Reproduction: S2T2 against the four other ways to put the text LM on protein sequences.

Two steps, each a sweep in the runs database (cells already done are skipped on a rerun):

1. **Selection, on the validation split** (``--select --settings FILE``, seed 0). Per trained
   condition, every combination of :data:`SELECTION_GRID` (learning rates) is trained at
   ``--batch-size`` for the largest budget of ``--select-epochs`` (passes over the 163,133
   training residues; 0.5 and 1 by default) and scored on the validation windows at each budget
   on the way (one run scores every budget: the learning rate is constant,
   :func:`train_condition`). The setting with the lowest validation BPC (learning rates, batch
   size, budget) is written to FILE, per condition (the file is updated, so conditions may be
   selected one command at a time). ``--extend`` then continues from the chosen learning rates
   alone, one lever at a time: other batch sizes (``--select-batch-sizes 1 4``) and longer
   budgets (``--select-epochs 1 2 4``), and picks among them (successive halving: the grid at the
   short budgets, the costly runs for its winner).
2. **Comparison, on the test split** (``--settings FILE``): every condition with its selected
   setting, over ``--seeds`` seeds; ``--passes P`` trains every condition for P passes instead of
   its selected budget (a comparison at equal compute). The two source-tokenizer conditions are trained with the full
   head (all 49,152 tokens) and scored twice: as they are, and renormalised over the tokens spelled
   with residue letters (``residue-tokens``, 755 tokens: the control for S2T2's renormalised
   head), paired on the same model. Without ``--settings``, every condition takes the config
   flags (``--residues``, ``--learning-rate``, ...). The test windows are scored only here.
   The plans of the S2T2 conditions are saved under DATA_HOME/s2t2/<condition>-seed-<seed>/plan.pt
   for the dashboard.

Report: the unigram and bigram baselines (training residue frequencies; one residue of context)
on the validation and test proteins; per condition the BPC (mean, sd, each seed) and its difference from the unigram
baseline, the setting used, characters per token, nonzeros per row of P; the paired
differences by seed (S2T2 against fresh embeddings, source finetuning under either head and
its frozen-body ablation, and each renormalised head against the full one); the compression
of the protein BPE at several vocabulary sizes. ``--report-only`` prints it from the database
(with the same flags as the run).

Run::

    python -m discolab.experiments.s2t2_eval --select --settings s2t2_settings.json
    python -m discolab.experiments.s2t2_eval --select --extend --select-batch-sizes 1 4 --settings s2t2_settings.json
    python -m discolab.experiments.s2t2_eval --select --extend --select-epochs 1 2 4 --settings s2t2_settings.json
    python -m discolab.experiments.s2t2_eval --settings s2t2_settings.json --seeds 5 [--passes 1]

Cost on two shared CPU cores, one worker per core: about 10 CPU-minutes per 80,000 training
residues for every trained condition (a joint S2T2 step measured at 1.14x a frozen-body one), so
a pass over the training proteins is about 20 minutes. The selection (10 runs of one pass) takes
about 3.5 CPU-hours; the comparison (4 trained conditions x 5 seeds) about 8 at one pass.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, fields, replace
from pathlib import Path

import pandas as pd
from discolab.core.errors import DiscolabError
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB, config_hash
from discolab.core.s2t2.conditions import (
    CHOICES,
    CONDITIONS,
    SOURCE_CONDITIONS,
    S2T2Config,
    plan_dir,
    prepared_data,
    save_plan,
    train_condition,
)
from discolab.core.s2t2.data import protein_sequences, split_sequences
from discolab.core.s2t2.model import S2T2LM, SOURCE_HEADS
from discolab.core.s2t2.tokenizer import characters_per_token, train_protein_bpe
from discolab.core.s2t2.train import bigram_bits_per_residue, unigram_bits_per_residue
from discolab.experiments.sweep import Sweep, add_sweep_arguments, grid_configs, run_sweep_from_arguments

EXPERIMENT = "s2t2-joint-compare"  # the comparison with S2T2 learning P and LoRA together (test split)
SELECT_EXPERIMENT = "s2t2-select"  # the learning-rate / batch / budget selection (validation split)
VOCAB_SIZES = (128, 256, 512, 1024, 2048)
SETTING_KEYS = [
    "condition", "source_head", "residues", "batch_size", "learning_rate", "plan_learning_rate", "vocab_size",
    "eval_split",
]  # fmt: skip
LEARNING_RATES = (3e-4, 1e-3, 3e-3)  # LoRA and fresh embeddings
BIGRAM_PRIOR_STRENGTHS = (1.0, 10.0, 100.0, 1000.0)  # the bigram baseline's smoothing, chosen on validation
# Per trained condition, the learning rates tried on the validation split (every run ~25 CPU-minutes
# a pass). Batch size and budget are then tried at the chosen rates alone (``--extend``).
SELECTION_GRID = {
    "source-finetune": {"learning_rate": LEARNING_RATES},
    "fresh-embeddings": {"learning_rate": LEARNING_RATES},
    # P's rate at the sparser of the two values the frozen-body study compared (1e-2, ~6x sparser than 1e-3)
    "s2t2": {"learning_rate": LEARNING_RATES[1:], "plan_learning_rate": (1e-2,)},
    "s2t2-frozen": {"plan_learning_rate": (1e-3, 1e-2)},
}
SELECTED_FIELDS = ("learning_rate", "plan_learning_rate", "batch_size", "residues")
SELECT_SEED = 0
PAIRS = (  # (first, second): the paired differences reported, first - second
    ("s2t2", "fresh-embeddings"),
    ("s2t2", "source-finetune"),
    ("s2t2", "source-finetune (residue-token head)"),
    ("s2t2", "s2t2-frozen"),
    ("s2t2-frozen", "fresh-embeddings"),
    ("source-finetune (residue-token head)", "source-finetune"),
    ("zero-shot (residue-token head)", "zero-shot"),
)


def label(condition: str, source_head: str) -> str:
    """The condition's name in the report: the source-tokenizer conditions name a renormalised head."""
    if condition in SOURCE_CONDITIONS and source_head == "residue-tokens":
        return f"{condition} (residue-token head)"
    return condition


LABELS = tuple(dict.fromkeys(label(c, h) for c in CONDITIONS for h in SOURCE_HEADS))  # in report order
RESIDUE_HEAD = "test_bpc_residue_head"  # a full-head source model's test BPC renormalised over the residue tokens


def unigram_baselines(split_seed: int = 0) -> dict[str, float]:
    """Bits per residue of the add-one smoothed training residue frequencies on validation and test."""
    parts = split_sequences(protein_sequences(), seed=split_seed)
    return {split: unigram_bits_per_residue(parts["train"], parts[split]) for split in ("validation", "test")}


def bigram_baselines(split_seed: int = 0) -> dict[str, float]:
    """Bits per residue of the smoothed training bigram (:func:`bigram_bits_per_residue`) on
    validation and test, its prior strength the one of :data:`BIGRAM_PRIOR_STRENGTHS` best on
    validation (``prior_strength``)."""
    parts = split_sequences(protein_sequences(), seed=split_seed)
    strength = min(
        BIGRAM_PRIOR_STRENGTHS, key=lambda k: bigram_bits_per_residue(parts["train"], parts["validation"], k)
    )
    scores = {
        split: bigram_bits_per_residue(parts["train"], parts[split], strength) for split in ("validation", "test")
    }
    return scores | {"prior_strength": strength}


def baseline_lines(split_seed: int = 0) -> list[str]:
    """The context-free and one-residue-context yardsticks, for the reports."""
    unigram, bigram = unigram_baselines(split_seed), bigram_baselines(split_seed)
    return [
        f"Unigram baseline (training residue frequencies, add-one smoothed): {unigram['validation']:.3f} bits per "
        f"residue on validation, {unigram['test']:.3f} on test; uniform over 20 amino acids {math.log2(20):.3f}.",
        f"Bigram baseline (one residue of context, prior strength {bigram['prior_strength']:g} chosen on validation): "
        f"{bigram['validation']:.3f} on validation, {bigram['test']:.3f} on test.",
    ]


def epoch_residues(config: S2T2Config) -> int:
    """Residues in one pass over the training windows."""
    return sum(map(len, prepared_data(config.vocab_size, config.window, config.split_seed)["windows"]["train"]))


def settings_of(config: dict) -> S2T2Config:
    return S2T2Config(**{k: v for k, v in config.items() if k not in ("condition", "budgets")})


# -- step 1: selection on the validation split ------------------------------------------------------
def select_cell(config: dict, seed: int) -> list[dict]:
    """Train one setting for its largest budget; validation BPC at each budget (step = residues seen)."""
    settings = settings_of(config)
    if settings.eval_split != "validation":
        raise ValueError("selection is scored on the validation split only")
    _, metrics = train_condition(config["condition"], settings, seed, budgets=config["budgets"])
    curve = metrics["validation_bpc_by_budget"]
    return [{"metric": "validation_bpc", "value": bpc, "step": residues} for residues, bpc in curve.items()] + [
        {"metric": "train_seconds", "value": metrics["train_seconds"], "step": 0}
    ]


def selection_configs(config: S2T2Config, conditions, epochs) -> list[dict]:
    """The selection grid of each trained condition in ``conditions``, at the budgets of ``epochs`` passes."""
    if not epochs or min(epochs) <= 0:
        raise DiscolabError(f"--select-epochs must be positive, got {epochs}")
    epoch = epoch_residues(config)
    budgets = sorted({round(e * epoch) for e in epochs})
    base = replace(config, eval_split="validation", source_head="full", residues=budgets[-1])
    return [
        {"condition": condition, **asdict(replace(base, **values)), "budgets": budgets}
        for condition in conditions
        if condition in SELECTION_GRID
        for values in grid_configs(SELECTION_GRID[condition])
    ]


def extension_configs(
    config: S2T2Config, conditions, epochs, settings: dict[str, dict], batch_sizes=None
) -> list[dict]:
    """The selection continued from its winners: per condition in ``conditions`` and ``settings``, only
    the learning rates already chosen there, at each of ``batch_sizes`` (default: the chosen one),
    trained for the budgets of ``epochs``.

    A successive-halving step: the grid is tried at a short budget, and the compute of the other
    batch sizes and the long budgets goes to its winner alone.
    """
    if batch_sizes is not None and min(batch_sizes) < 1:
        raise DiscolabError(f"--select-batch-sizes must be positive, got {batch_sizes}")
    missing = [c for c in conditions if c in SELECTION_GRID and c not in settings]
    if missing:
        raise DiscolabError(f"no chosen settings for {', '.join(missing)} to extend: run --select for them first")
    configs = selection_configs(config, conditions, epochs)
    chosen = {c: {k: settings[c][k] for k in SELECTED_FIELDS if k != "residues"} for c in settings}
    unique = {}
    for c in configs:
        for batch_size in batch_sizes or [chosen[c["condition"]]["batch_size"]]:
            extended = c | chosen[c["condition"]] | {"batch_size": int(batch_size)}
            unique[config_hash(extended)] = extended
    return list(unique.values())


def selection_sweep(configs: list[dict]) -> Sweep:
    return Sweep(SELECT_EXPERIMENT, select_cell, configs, [SELECT_SEED], setting_keys=SETTING_KEYS)


def selection_table(db: RunsDB, configs: list[dict]) -> pd.DataFrame:
    """Validation BPC per (condition, learning rates, batch size, budget) of the ``configs`` done."""
    columns = ["condition", "learning_rate", "plan_learning_rate", "batch_size", "residues", "validation_bpc"]
    try:
        table = db.wide(SELECT_EXPERIMENT)
    except DiscolabError:
        return pd.DataFrame(columns=columns)
    table = table[table["config_hash"].isin({config_hash(c) for c in configs}) & (table["step"] > 0)]
    table = table.drop(columns="residues").rename(columns={"step": "residues"})  # the budget, not the run's length
    return table[columns].sort_values(["condition", "validation_bpc"]).reset_index(drop=True)


def chosen_settings(table: pd.DataFrame) -> dict[str, dict]:
    """Per condition, the row of ``table`` with the lowest validation BPC."""
    best = table.loc[table.groupby("condition")["validation_bpc"].idxmin()]
    return {
        row.condition: {
            "learning_rate": float(row.learning_rate),
            "plan_learning_rate": float(row.plan_learning_rate),
            "batch_size": int(row.batch_size),
            "residues": int(row.residues),
            "validation_bpc": float(row.validation_bpc),
        }
        for row in best.itertuples()
    }


def read_settings(path: Path) -> dict[str, dict]:
    """The settings file written by ``--select``: {condition: {learning_rate, ..., residues, validation_bpc}}."""
    try:
        settings = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise DiscolabError(f"cannot read the settings file {path}: {err}") from None
    if not isinstance(settings, dict) or not all(
        isinstance(v, dict) and set(SELECTED_FIELDS) <= set(v) for v in settings.values()
    ):
        raise DiscolabError(f"{path} is not a settings file of --select ({', '.join(SELECTED_FIELDS)} per condition)")
    return settings


def selection_report(db: RunsDB, configs: list[dict], path: Path) -> str:
    """The validation table; writes the chosen settings into ``path`` once every cell of a condition is done."""
    table = selection_table(db, configs)
    budgets = len(configs[0]["budgets"]) if configs else 0
    expected = pd.Series([c["condition"] for c in configs]).value_counts() * budgets
    complete = [c for c, n in expected.items() if (table["condition"] == c).sum() == n]
    lines = [
        *baseline_lines(),
        "",
        "Validation bits per character per setting (seed 0; residues = the budget):",
        "",
        table.round(4).to_markdown(index=False) if not table.empty else "(no cells done yet)",
        "",
    ]
    missing = [c for c in expected.index if c not in complete]
    if missing:
        lines.append(f"not chosen yet (cells missing): {', '.join(missing)}; run the same command to finish them")
    if complete:
        settings = read_settings(path) if path.exists() else {}
        settings |= chosen_settings(table[table["condition"].isin(complete)])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=2) + "\n")
        lines += [f"chosen on validation, written to {path}:", json.dumps(settings, indent=2)]
    return "\n".join(lines)


# -- step 2: the comparison on the test split ---------------------------------------------------------
def compare_cell(config: dict, seed: int) -> list[dict]:
    """Train and score one condition; the plan is saved for S2T2 conditions."""
    settings = settings_of(config)
    model, metrics = train_condition(config["condition"], settings, seed)
    if isinstance(model, S2T2LM):
        save_plan(model, settings, seed, metrics, plan_dir(config["condition"], seed))
    losses = metrics.pop("losses")
    return [{"metric": k, "value": float(v), "step": 0} for k, v in metrics.items()] + [
        {"metric": "loss", "value": loss, "step": step} for step, loss in enumerate(losses)
    ]


def comparison_configs(
    config: S2T2Config, conditions, settings: dict[str, dict] | None = None, passes: float | None = None
) -> list[dict]:
    """One config per condition, scored on test (the source-tokenizer ones under both heads, one
    model); with ``settings`` (from ``--select``) each trained condition takes its selected
    learning rates, batch size and budget; with ``passes`` every one trains that many passes
    over the training residues instead."""
    if passes is not None and passes <= 0:
        raise DiscolabError(f"--passes must be positive, got {passes}")
    configs = []
    for condition in conditions:
        chosen = replace(config, eval_split="test")
        if settings is not None and condition != "zero-shot":
            if condition not in settings:
                raise DiscolabError(f"no selected settings for {condition}: run --select for it, or leave it out")
            chosen = replace(chosen, **{k: settings[condition][k] for k in SELECTED_FIELDS})
        if passes is not None and condition != "zero-shot":
            chosen = replace(chosen, residues=round(passes * epoch_residues(config)))
        configs.append({"condition": condition, **asdict(replace(chosen, source_head="full"))})
    return configs


def comparison_sweep(configs: list[dict], seeds: list[int]) -> Sweep:
    return Sweep(EXPERIMENT, compare_cell, configs, seeds, setting_keys=SETTING_KEYS)


def comparison_rows(db: RunsDB, configs: list[dict] | None) -> pd.DataFrame:
    """The comparison's rows (:meth:`RunsDB.wide`) of ``configs`` (all when None), with a ``label`` column."""
    table = db.wide(EXPERIMENT)
    if configs is not None:
        table = table[table["config_hash"].isin({config_hash(c) for c in configs})]
    return table.assign(label=[label(c, h) for c, h in zip(table["condition"], table["source_head"])])


def final_rows(db: RunsDB, configs: list[dict] | None) -> pd.DataFrame:
    """The scalar rows (step 0) of :func:`comparison_rows`, with a row per source-tokenizer model
    scored under the residue-token head (its ``test_bpc`` that head's)."""
    table = comparison_rows(db, configs)
    table = table[table["step"] == 0]
    if RESIDUE_HEAD not in table:
        return table
    renormalised = table[table[RESIDUE_HEAD].notna()]
    renormalised = renormalised.assign(
        test_bpc=renormalised[RESIDUE_HEAD], label=[label(c, "residue-tokens") for c in renormalised["condition"]]
    )
    return pd.concat([table, renormalised], ignore_index=True)


def summary(db: RunsDB, configs: list[dict] | None = None) -> pd.DataFrame:
    """Per condition and setting: test BPC (mean, sd, per seed, minus the unigram baseline), the
    setting, compression and the sparsity of P."""
    table = final_rows(db, configs)
    unigram = unigram_baselines()["test"]
    rows = []
    for _, part in sorted(table.groupby(["config_hash", "label"]), key=lambda item: LABELS.index(item[0][1])):
        first = part.iloc[0]
        row = {
            "condition": first["label"],
            "seeds": len(part),
            "test_bpc": part["test_bpc"].mean(),
            "test_bpc_sd": part["test_bpc"].std(ddof=1) if len(part) > 1 else 0.0,
            "per_seed": " ".join(f"{v:.3f}" for v in part.sort_values("seed")["test_bpc"]),
            "minus_unigram": part["test_bpc"].mean() - unigram,
            "residues": 0 if first["condition"] == "zero-shot" else int(first["residues"]),  # trains nothing
            "batch_size": int(first["batch_size"]),
            "learning_rate": first["learning_rate"],
            "plan_learning_rate": first["plan_learning_rate"],
            "chars_per_token": part["chars_per_token"].mean(),
            "trainable_parameters": int(part["trainable_parameters"].mean()),
            "minutes": part["train_seconds"].mean() / 60,
        }
        if "plan_nonzeros_mean" in part and part["plan_nonzeros_mean"].notna().any():
            row["P_nonzeros_per_row"] = part["plan_nonzeros_mean"].mean()
            row["P_sources"] = int(part["plan_sources"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(db: RunsDB, configs: list[dict]) -> list[str]:
    """The claim checks of :data:`PAIRS`, paired by seed; negative = the first is better."""
    by_seed = final_rows(db, configs).pivot_table(index="seed", columns="label", values="test_bpc")
    lines = []
    for ours, other in PAIRS:
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


def plot(db: RunsDB, configs: list[dict], path) -> None:
    """Training loss (bits per residue, smoothed) per condition, and test BPC per seed, with the unigram baseline."""
    from matplotlib.figure import Figure

    table, finals = comparison_rows(db, configs), final_rows(db, configs)
    names = [name for name in LABELS if name in set(finals["label"])]
    fig = Figure(figsize=(12, 4.2))
    curves, bars = fig.subplots(1, 2)
    for name in names:
        part = table[(table["label"] == name) & table["loss"].notna()]
        if part.empty:
            continue
        curve = part.groupby("step")["loss"].mean().rolling(10, min_periods=1).mean()
        curves.plot(curve.index, curve.values, label=name)
    unigram = unigram_baselines()["test"]
    curves.axhline(unigram, color="grey", linestyle=":", label="unigram (test)")
    curves.set_xlabel("step")
    curves.set_ylabel("training loss (bits per residue)")
    curves.legend(fontsize=7)
    for k, name in enumerate(names):
        values = finals[finals["label"] == name]["test_bpc"]
        bars.scatter([k] * len(values), values, color=f"C{k}")
        if len(values):
            bars.hlines(values.mean(), k - 0.3, k + 0.3, color=f"C{k}")
    bars.axhline(unigram, color="grey", linestyle=":")
    bars.set_xticks(range(len(names)), names, rotation=25, ha="right", fontsize=7)
    bars.set_ylabel("test bits per character")
    fig.suptitle("S2T2 vs the alternatives on held-out proteins (settings chosen on validation)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def report(db: RunsDB, configs: list[dict]) -> str:
    table = summary(db, configs)
    path = data_path("results", "s2t2_compare.png")
    plot(db, configs, path)
    lines = [
        *baseline_lines(),
        "",
        "Bits per character on the test windows (lower is better; minus_unigram < 0 beats the unigram baseline):",
        "",
        table.round(4).to_markdown(index=False),
        "",
        "Compression (residues per token, test proteins):",
        "",
        compression_table().round(3).to_markdown(index=False),
        "",
    ]
    lines += paired_differences(db, configs)
    lines.append(f"plot: {path}")
    return "\n".join(lines)


# -- command line -----------------------------------------------------------------------------------
def add_config_arguments(parser, exclude: tuple[str, ...] = ()) -> None:
    """One flag per :class:`S2T2Config` field (``--vocab-size``, ``--residues``, ...) but those in ``exclude``."""
    for f in fields(S2T2Config):
        if f.name not in exclude:
            flag = f"--{f.name.replace('_', '-')}"
            parser.add_argument(flag, type=type(f.default), default=f.default, choices=CHOICES.get(f.name))


def config_from_args(args) -> S2T2Config:
    try:
        return S2T2Config(**{f.name: getattr(args, f.name) for f in fields(S2T2Config) if hasattr(args, f.name)})
    except ValueError as err:
        raise DiscolabError(str(err)) from None


def add_arguments(parser) -> None:
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    parser.add_argument(
        "--select", action="store_true",
        help="choose learning rates, batch size and budget per trained condition on the validation split (seed 0)",
    )  # fmt: skip
    parser.add_argument(
        "--select-epochs", nargs="+", type=float, default=[0.5, 1.0],
        help="the budgets tried by --select, in passes over the training residues (default 0.5 1)",
    )  # fmt: skip
    parser.add_argument(
        "--extend", action="store_true",
        help="with --select: train only the learning rates chosen in --settings, at the budgets of --select-epochs",
    )  # fmt: skip
    parser.add_argument(
        "--select-batch-sizes", nargs="+", type=int, default=None,
        help="with --extend: the batch sizes tried at the chosen learning rates (default: the chosen batch size)",
    )  # fmt: skip
    parser.add_argument(
        "--passes", type=float, default=None,
        help="the comparison: train every condition for this many passes over the training residues "
        "(default: the budget chosen in --settings, or --residues)",
    )  # fmt: skip
    parser.add_argument(
        "--settings", type=Path, default=None,
        help="JSON of the settings chosen per condition: written by --select, read by the comparison",
    )  # fmt: skip
    add_config_arguments(parser, exclude=("eval_split", "source_head"))  # set by the step (both heads scored)
    parser.add_argument("--report-only", action="store_true", help="only print the report of the stored results")
    add_sweep_arguments(parser)


def run(args) -> int:
    db = RunsDB(args.db)
    config = config_from_args(args)
    if args.select_batch_sizes and not (args.select and args.extend):
        raise DiscolabError("--select-batch-sizes is a step of the selection: use it with --select --extend")
    if args.passes is not None and args.select:
        raise DiscolabError("--passes sets the comparison's budget: --select chooses it with --select-epochs")
    if args.select:
        if args.settings is None:
            raise DiscolabError("--select writes the chosen settings: give --settings FILE")
        if args.extend:
            configs = extension_configs(
                config, args.conditions, args.select_epochs, read_settings(args.settings), args.select_batch_sizes
            )
        else:
            configs = selection_configs(config, args.conditions, args.select_epochs)
        if not args.report_only:
            run_sweep_from_arguments(selection_sweep(configs), db, args)
        print(selection_report(db, configs, args.settings))
        return 0
    if args.extend:
        raise DiscolabError("--extend continues a selection: use it with --select")
    settings = read_settings(args.settings) if args.settings else None
    configs = comparison_configs(config, args.conditions, settings, args.passes)
    if not args.report_only:
        run_sweep_from_arguments(comparison_sweep(configs, list(range(args.seeds))), db, args)
    print(report(db, configs))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
