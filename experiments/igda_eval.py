"""Offline evaluation of IGDA against ground-truth graphs, as sweeps into the runs database.

Three sweeps, each cell a (config, seed):

- ``igda-eval``: full discovery runs with the oracle experimenter, graphs x priors (simulated
  experts Q in {0.6, 0.7, 0.8, 0.9}, PC, GES) x strategies x updates; R = 8 rounds of
  I = max(2, round(n / 4)) experiments for n variables. Each round is a row (step = round), so
  one run gives F1 at every budget I, 2I, ..., 8I: the budget grid.
- ``igda-eval-llm``: the same with the embedded LLM as prior and the LLM update, on the 8
  graphs and the renamed variants of the four small ones, R = 5 (the update re-asks the model
  about most pairs every round, so this is the slow part).
- ``igda-baselines``: pairwise (Kiciman-style) and BFS (Jiralerspong-style) prompting of the
  embedded LLM; no experiments.

The static LLM prior and PC / GES alone are round 0 of the corresponding ``igda-eval`` runs.
A rerun skips the cells already done. The report prints the F1 table (mean +- std over seeds),
counts graphs won at each budget, and writes plots of F1 against experiments spent.

- ``igda-chared`` (``--chared``): the CharED ensemble of SmolLM2 and Gemma-3-270M as prior and
  LLM update (``prior="chared"``), weights (1, 0), (0.5, 0.5), (0, 1), on the four small graphs,
  R = 5: the ensemble against each model alone, scored the same way (needs ``discolab[gemma]``).
- ``igda-seeds`` (``--distribution``): 40 seeds of a few cells, for the distribution of F1
  across seeds (analysed with :mod:`discolab.core.scaling`).

Run: ``python -m discolab.experiments.igda_eval [--quick] [--llm] [--distribution] [--workers 2]``;
``--report-only`` prints the tables from the database without running anything.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.agents.discovery.nodes import graph_spec, llm_backend
from discolab.core.graphs import BENCHMARKS, edge_auroc
from discolab.core.igda.baselines import BASELINES, run_baseline
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB
from discolab.experiments.stats import paired_test
from discolab.experiments.sweep import Sweep, add_sweep_arguments, grid_configs, run_sweep_from_arguments

SMALL = ["cancer", "earthquake", "survey", "asia"]
CONTROLLED_GRID = {
    "graph": list(BENCHMARKS),
    "prior": ["simulated:0.6", "simulated:0.7", "simulated:0.8", "simulated:0.9", "pc", "ges"],
    "strategy": ["uncertainty", "random", "confident", "bootstrap"],
    "update": ["structural", "none"],
}
LLM_GRID = {
    # Cheap graphs first, so that an interrupted sweep has finished the cheap part.
    "graph": SMALL + [f"{g}-renamed" for g in SMALL] + [g for g in BENCHMARKS if g not in SMALL],
    "prior": ["llm"],
    "strategy": ["uncertainty", "random"],
    "update": ["llm", "none"],
}
# Many seeds of a few cells: the distribution of F1 across seeds (see docs/scaling.md).
SEEDS_GRID = {
    "graph": ["asia", "child", "alarm"],
    "prior": ["simulated:0.6", "pc"],
    "strategy": ["uncertainty", "random"],
    "update": ["structural"],
}
CHARED_GRID = {
    "graph": SMALL,
    "prior": ["chared"],
    "ensemble": ["smollm2,gemma3-270m"],
    "ensemble_weights": ["1,0", "0.5,0.5", "0,1"],
    "strategy": ["uncertainty"],
    "update": ["llm"],
}
SEEDS_STUDY = 40
CONTROLLED_ROUNDS, LLM_ROUNDS = 8, 5
METRICS = ("experiments", "precision", "recall", "f1", "shd")


def per_round_budget(graph: str) -> int:
    return max(2, round(len(graph_spec(graph).variables) / 4))


def discovery_cell(config: dict, seed: int) -> list[dict]:
    """One oracle-experimenter discovery run; a row per metric and round (step = round)."""
    # every pair scored, as when the studies were measured (the default prunes large graphs with data)
    settings = DiscoverySettings(**{"candidates": "all", **config}, seed=seed)
    run = start_discovery(settings, durable=False)
    rows = [
        {"metric": metric, "value": record[metric], "step": record["round"]}
        for record in run.history
        for metric in (*METRICS, "update_shift")  # the LLM update's mean move, on its rounds
        if metric in record
    ]
    rows.append({"metric": "fallbacks", "value": len(run.values.get("fallbacks", [])), "step": 0})
    rows += [{"metric": f"llm_{k}", "value": v, "step": 0} for k, v in run.values.get("llm", {}).items()]
    spec = graph_spec(settings.graph)
    if spec.has_truth:  # how well the prior ranks the pairs, whatever its calibration
        prior = {tuple(p): b for p, b in zip(run.values["pairs"], run.values["prior_beliefs"])}
        rows.append({"metric": "prior_auroc", "value": edge_auroc(spec.edges, prior), "step": 0})
    return rows


def baseline_cell(config: dict, seed: int) -> dict:
    """One prompting baseline on one graph with the embedded LLM."""
    backend = llm_backend("local", None, None)
    result = run_baseline(config["method"], graph_spec(config["graph"]), backend, seed=seed)
    metrics = result.metrics.as_dict()
    return {
        "queries": result.queries,
        "fallbacks": len(result.fallbacks),
        **{m: metrics[m] for m in ("precision", "recall", "f1", "shd")},
    }


def discovery_configs(grid: dict, rounds: int) -> list[dict]:
    configs = grid_configs(grid, rounds=rounds, experimenter="oracle")
    for config in configs:
        config["per_round"] = per_round_budget(config["graph"])
    return configs


def sweeps(
    quick: bool,
    llm: bool,
    seeds: list[int],
    distribution: bool = False,
    graphs: list[str] | None = None,
    chared: bool = False,
) -> list[Sweep]:
    controlled, llm_grid = dict(CONTROLLED_GRID), dict(LLM_GRID)
    baseline_graphs = LLM_GRID["graph"]
    if quick:
        controlled["graph"] = ["cancer", "asia"]
        llm_grid["graph"] = baseline_graphs = ["cancer"]
    if graphs:
        controlled["graph"] = [g for g in controlled["graph"] if g in graphs]
        llm_grid["graph"] = [g for g in llm_grid["graph"] if g in graphs]
        baseline_graphs = [g for g in baseline_graphs if g in graphs]
    keys = ["graph", "prior", "strategy", "update"]
    out = [Sweep("igda-eval", discovery_cell, discovery_configs(controlled, CONTROLLED_ROUNDS), seeds, keys)]
    if llm:
        out.append(Sweep("igda-eval-llm", discovery_cell, discovery_configs(llm_grid, LLM_ROUNDS), seeds, keys))
        baselines = grid_configs({"graph": baseline_graphs, "method": list(BASELINES)})
        out.append(Sweep("igda-baselines", baseline_cell, baselines, seeds))
    if chared:
        grid = {**CHARED_GRID, "graph": [g for g in CHARED_GRID["graph"] if not graphs or g in graphs]}
        out.append(
            Sweep(
                "igda-chared",
                discovery_cell,
                discovery_configs(grid, LLM_ROUNDS),
                seeds[:3],
                [*keys, "ensemble_weights"],
            )
        )
    if distribution:
        configs = discovery_configs(SEEDS_GRID, CONTROLLED_ROUNDS)
        out.append(Sweep("igda-seeds", discovery_cell, configs, list(range(SEEDS_STUDY)), keys))
    return out


# -- report ----------------------------------------------------------------------------------
def trajectories(db: RunsDB, experiment: str) -> pd.DataFrame:
    """One row per (run, round): graph, prior, strategy, update, seed, round, metrics."""
    frame = db.wide(experiment).rename(columns={"step": "round"}).dropna(subset=["f1"])
    frame["method"] = frame["strategy"] + "+" + frame["update"]
    return frame


def final_table(frame: pd.DataFrame, rounds: int | None = None) -> pd.DataFrame:
    """F1 after ``rounds`` (default: the last) per graph, prior and method: mean, std, seeds;
    with the static prior (round 0) alongside."""
    rounds = rounds if rounds is not None else int(frame["round"].max())
    end = frame[frame["round"] == rounds].groupby(["prior", "graph", "method"])["f1"].agg(["mean", "std", "count"])
    static = frame[frame["round"] == 0].groupby(["prior", "graph"])["f1"].mean().rename("static")
    return end.join(static).reset_index()


def wins_by_budget(frame: pd.DataFrame, ours: dict[str, str]) -> pd.DataFrame:
    """Per prior and round: on how many graphs ``ours[prior]`` has the highest mean F1 against each
    other method and against the static prior (ties within 1e-9 counted apart)."""
    out = []
    for prior, part in frame.groupby("prior"):
        mine = ours.get(prior, "uncertainty+structural")
        for rounds in sorted(part["round"].unique()):
            if rounds == 0:
                continue
            means = part[part["round"] == rounds].pivot_table(index="graph", columns="method", values="f1")
            static = part[part["round"] == 0].groupby("graph")["f1"].mean()
            rivals = {m: means[m] for m in means.columns if m != mine} | {"static prior": static}
            for name, rival in rivals.items():
                diff = (means[mine] - rival).dropna()
                out.append(
                    {
                        "prior": prior,
                        "round": int(rounds),
                        "versus": name,
                        "graphs": len(diff),
                        "wins": int((diff > 1e-9).sum()),
                        "ties": int((diff.abs() <= 1e-9).sum()),
                    }
                )
    return pd.DataFrame(out)


def wins_table(wins: pd.DataFrame, rounds: int) -> pd.DataFrame:
    """The :func:`wins_by_budget` counts after ``rounds`` as a prior x rival table of "won/graphs
    (t tied)" (the rest are losses)."""
    part = wins[wins["round"] == rounds]
    cells = part["wins"].astype(str) + "/" + part["graphs"].astype(str)
    cells = cells.where(part["ties"] == 0, cells + " (" + part["ties"].astype(str) + " tied)")
    table = part.assign(cell=cells).pivot(index="prior", columns="versus", values="cell")
    order = ["static prior", *sorted(c for c in table.columns if c != "static prior")]
    return table[order]


def paired_tests(frame: pd.DataFrame, ours: dict[str, str]) -> pd.DataFrame:
    """Per prior: ``ours[prior]`` against each other method and the static prior, paired over
    (graph, seed): the mean difference in final F1, in F1 area (mean F1 over rounds 0..R) and in
    final SHD, each with its Wilcoxon signed-rank p and win / tie / loss at p < 0.05."""
    keys = ["graph", "seed"]
    out = []
    for prior, part in frame.groupby("prior"):
        mine = ours.get(prior, "uncertainty+structural")
        last = part[part["round"] == part["round"].max()]
        metrics = {
            "f1": last.pivot_table(index=keys, columns="method", values="f1"),
            "f1_area": part.pivot_table(index=keys, columns="method", values="f1", aggfunc="mean"),
            "shd": last.pivot_table(index=keys, columns="method", values="shd"),
        }
        start = part[(part["round"] == 0) & (part["method"] == mine)].set_index(keys)
        for name in ("f1", "shd"):  # the static prior: round 0, the same for every round of the area
            metrics[name]["static prior"] = start[name]
        metrics["f1_area"]["static prior"] = start["f1"]
        for rival in [m for m in metrics["f1"].columns if m != mine]:
            row = {
                "prior": prior,
                "method": mine,
                "versus": rival,
                "runs": int(metrics["f1"][[mine, rival]].dropna().shape[0]),
            }
            for name, table in metrics.items():
                diff, p, verdict = paired_test(table[mine], table[rival])
                if name == "shd" and verdict != "tie":  # fewer wrong edges is the win
                    verdict = "win" if diff < 0 else "loss"
                row[name] = f"{diff:+.3f}, p={p:.3f} ({verdict})"
            out.append(row)
    return pd.DataFrame(out)


def plot_trajectories(frame: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One PNG per prior: F1 against experiments spent, a panel per graph, a line per method
    (mean over seeds, band = +- one standard deviation)."""
    from matplotlib.figure import Figure

    paths = []
    for prior, part in frame.groupby("prior"):
        graphs = list(dict.fromkeys(g for g in LLM_GRID["graph"] if g in set(part["graph"])))
        columns = 4
        rows = -(-len(graphs) // columns)
        fig = Figure(figsize=(4 * columns, 3.2 * rows))
        axes = fig.subplots(rows, columns, squeeze=False)
        for ax, graph in zip(axes.flat, graphs):
            curves = part[part["graph"] == graph].groupby(["method", "round"])
            stats = curves.agg(experiments=("experiments", "mean"), mean=("f1", "mean"), std=("f1", "std"))
            for method, curve in stats.groupby(level=0):
                curve = curve.droplevel(0).fillna(0.0)
                ax.plot(curve["experiments"], curve["mean"], marker="o", markersize=3, label=method)
                ax.fill_between(
                    curve["experiments"], curve["mean"] - curve["std"], curve["mean"] + curve["std"], alpha=0.15
                )
            ax.set_title(graph)
            ax.set_xlabel("experiments")
            ax.set_ylabel("F1")
            ax.set_ylim(0, 1.02)
        for ax in list(axes.flat)[len(graphs) :]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        label = f"{prior} (simulated expert)" if prior.startswith("simulated") else prior
        fig.suptitle(f"IGDA: F1 against experiments spent, prior {label}; mean +- std over seeds")
        fig.tight_layout()
        path = out_dir / f"igda_f1_{prior.replace(':', '_')}.png"
        fig.savefig(path, dpi=90)
        paths.append(path)
    return paths


def markdown_tables(table: pd.DataFrame) -> str:
    """The final-F1 table as one markdown table per prior: graphs x methods, "mean±std"."""
    parts = []
    for prior, part in table.groupby("prior"):
        cells = part.assign(cell=part["mean"].map("{:.2f}".format) + "±" + part["std"].fillna(0).map("{:.2f}".format))
        wide = cells.pivot(index="graph", columns="method", values="cell")
        wide.insert(0, "static prior", part.groupby("graph")["static"].first().map("{:.2f}".format))
        order = [g for g in LLM_GRID["graph"] if g in wide.index]
        parts.append(f"### prior `{prior}` (seeds: {int(part['count'].min())}-{int(part['count'].max())})\n")
        parts.append(wide.loc[order].to_markdown() + "\n")
    return "\n".join(parts)


def report(db: RunsDB, out_dir: Path) -> str:
    lines = []
    stored = set(db.experiments()["experiment"])
    for experiment, ours in (("igda-eval", {}), ("igda-eval-llm", {"llm": "uncertainty+llm"})):
        if experiment not in stored:
            continue
        frame = trajectories(db, experiment)
        table = final_table(frame)
        lines.append(f"## {experiment}: F1 after the last round\n")
        lines.append(markdown_tables(table))
        wins = wins_by_budget(frame, ours)
        last = wins[wins["round"] == wins.groupby("prior")["round"].transform("max")]
        lines.append(f"\n## {experiment}: graphs won by uncertainty + update after the last round\n")
        lines.append(last.to_markdown(index=False))
        # per budget, against the main rivals only: the same update with other strategies, no update
        mine = wins["prior"].map(lambda p, ours=ours: ours.get(p, "uncertainty+structural"))
        update = mine.str.split("+").str[1]
        main_rivals = (wins["versus"].str.split("+").str[1] == update) | wins["versus"].isin(
            ["uncertainty+none", "static prior"]
        )
        pivot = wins[main_rivals].pivot_table(
            index=["prior", "versus"], columns="round", values="wins", aggfunc="first"
        )
        lines.append(f"\n## {experiment}: graphs won at each budget (round r = r x I experiments)\n")
        lines.append(pivot.to_markdown())
        for rounds in sorted({min(2, int(wins["round"].max())), int(wins["round"].max())}):
            lines.append(
                f"\n## {experiment}: after round {rounds}, graphs won (ties counted apart; the rest are losses)\n"
            )
            lines.append(wins_table(wins, rounds).to_markdown())
        lines.append(f"\n## {experiment}: paired Wilcoxon tests over (graph, seed), after the last round\n")
        lines.append(paired_tests(frame, ours).to_markdown(index=False))
        paths = plot_trajectories(frame, out_dir)
        lines.append("\nplots: " + ", ".join(str(p) for p in paths) + "\n")
    if "igda-chared" in stored:
        frame = trajectories(db, "igda-chared")
        last = frame[frame["round"] == frame["round"].max()].groupby(["graph", "ensemble_weights"])["f1"]
        static = frame[frame["round"] == 0].groupby(["graph", "ensemble_weights"])["f1"]
        columns = {}
        if "prior_auroc" in frame.columns:  # recorded since 2026-11-26; older runs lack it
            auroc = frame[frame["round"] == 0].groupby(["graph", "ensemble_weights"])["prior_auroc"]
            columns["prior AUROC"] = (
                auroc.mean().round(2).astype(str) + "±" + auroc.std().fillna(0).round(2).astype(str)
            )
        columns["static F1"] = static.mean().round(2)
        columns["final F1"] = last.mean().round(2).astype(str) + "±" + last.std().fillna(0).round(2).astype(str)
        columns["seeds"] = last.count()
        table = pd.DataFrame(columns)
        lines.append("## igda-chared: CharED ensemble (weights SmolLM2, Gemma) as prior and update\n")
        lines.append(table.to_markdown() + "\n")
    if "igda-baselines" in stored:
        frame = db.wide("igda-baselines")
        table = frame.groupby(["graph", "method"])[["f1", "shd", "queries", "fallbacks"]].agg(["mean", "std"])
        lines.append("## igda-baselines: prompting baselines (embedded LLM, no experiments)\n")
        lines.append(table.round(2).to_markdown())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--llm", action="store_true", help="also the embedded-LLM sweeps (slow)")
    parser.add_argument("--quick", action="store_true", help="two graphs, two seeds")
    parser.add_argument(
        "--distribution", action="store_true", help=f"also {SEEDS_STUDY} seeds of a few cells (igda-seeds)"
    )
    parser.add_argument("--chared", action="store_true", help="also the CharED-ensemble prior sweep (igda-chared)")
    parser.add_argument("--report-only", action="store_true", help="print the report from the database")
    parser.add_argument("--only", action="append", default=None, help="run only this sweep (repeatable)")
    parser.add_argument("--graphs", nargs="+", default=None, help="only these graphs (e.g. to split work)")
    parser.add_argument("--plots", default=None, help="folder for the PNG plots (default DATA_HOME/results)")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    db = RunsDB(args.db)
    seeds = [0, 1] if args.quick else list(range(args.seeds))
    if not args.report_only:
        for sweep in sweeps(args.quick, args.llm, seeds, args.distribution, args.graphs, args.chared):
            if args.only and sweep.name not in args.only:
                continue
            run_sweep_from_arguments(sweep, db, args)
    out_dir = Path(args.plots) if args.plots else data_path("results", "x").parent
    out_dir.mkdir(parents=True, exist_ok=True)
    print(report(db, out_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
