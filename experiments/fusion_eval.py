"""Does a fused prior whose weights are learned from the experiments beat its sources?

Sweep ``igda-fusion``, each cell a (graph, rows of observational data n, expert, arm, seed): a
full discovery run (uncertainty selection, structural update, oracle experimenter, R = 8 rounds
of I = max(2, round(n_vars / 4)) experiments). The expert is the LLM-like source: the embedded
model (``llm``) or a simulated expert of quality 0.6 or 0.8 (a stand-in for a model that knows
something; labelled simulated everywhere), and one of quality 0.6 whose wrong beliefs are as
confident as its right ones (``simulated:0.6:confident``: the plain simulated expert's errors sit
near 1/2, which hands uncertainty selection its mistakes). Arms:

- ``expert``: the expert alone;     ``pc``: PC on the n rows alone;
- ``fixed``: ``expert+pc`` with the weights held at their start (prior precision 1e6);
- ``learned``: ``expert+pc`` with the weights refitted every round (precision 1);
- ``learned+explore``: the same with a quarter of the experiments picked at random;
- ``learned+lookahead``: the learned fusion with lookahead selection instead of uncertainty.

Rows per round: F1, SHD, experiments; at round 0 and the last round the AUROC of the beliefs
against the true edges; for fused arms, each source's final weight. The report compares, per
(expert, n), the learned fusion with the better single source and with the fixed fusion: mean
final F1, graphs won / tied / lost (by the mean over seeds), and a paired Wilcoxon signed-rank test over
(graph, seed) pairs; a difference with p >= 0.05 is called a tie. Also the area under the
F1-versus-experiments curve (mean F1 over rounds 0..R).

Run: ``python -m discolab.experiments.fusion_eval [--quick] [--graphs G ...] [--experts E ...]
[--rows N ...] [--workers 2]``; ``--report-only`` prints the tables from the runs database.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pandas as pd
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.agents.discovery.nodes import current_beliefs, fusion_logits, graph_spec
from discolab.core.graphs import BENCHMARKS, edge_auroc
from discolab.core.igda.fusion import fit_weights
from discolab.core.runs import RunsDB
from discolab.experiments.stats import paired_test
from discolab.experiments.sweep import Sweep, add_sweep_arguments, run_sweep_from_arguments

EXPERIMENT = "igda-fusion"
ORACLE = "igda-fusion-oracle-p1"
EXPERTS = ["simulated:0.6", "simulated:0.8", "simulated:0.6:confident", "llm"]
ROWS = [50, 200, 1000, 5000]
ARMS = ["expert", "pc", "fixed", "learned", "learned+explore", "learned+lookahead"]
ROUNDS = 8
FIXED_PRECISION = 1e6


def arm_settings(graph: str, rows: int, expert: str, arm: str) -> dict:
    """DiscoverySettings fields of one arm."""
    prior = {"expert": expert, "pc": "pc"}.get(arm, f"{expert}+pc")
    return {
        "graph": graph,
        "samples": rows,
        "prior": prior,
        "fusion_precision": FIXED_PRECISION if arm == "fixed" else 1.0,
        "explore": 0.25 if arm == "learned+explore" else 0.0,
        "strategy": "lookahead" if arm == "learned+lookahead" else "uncertainty",
        "update": "structural",
        "experimenter": "oracle",
        "rounds": ROUNDS,
        "per_round": max(2, round(len(graph_spec(graph).variables) / 4)),
        "candidates": "all",  # the study scores every pair, as when it was measured (not --candidates auto)
    }


def fusion_cell(config: dict, seed: int) -> list[dict]:
    """One discovery run of one arm: F1 / SHD per round, AUROC at the ends, final weights."""
    settings = DiscoverySettings(
        **arm_settings(config["graph"], config["rows"], config["expert"], config["arm"]), seed=seed
    )
    run = start_discovery(settings, durable=False)
    rows = [
        {"metric": metric, "value": record[metric], "step": record["round"]}
        for record in run.history
        for metric in ("experiments", "f1", "shd")
    ]
    truth = graph_spec(settings.graph).edges
    pairs = [tuple(p) for p in run.values["pairs"]]
    for step, beliefs in ((0, run.values["prior_beliefs"]), (run.history[-1]["round"], current_beliefs(run.values))):
        rows.append({"metric": "auroc", "value": edge_auroc(truth, dict(zip(pairs, beliefs))), "step": step})
    fusion = run.history[-1].get("fusion")
    if fusion:
        for name, entry in fusion["sources"].items():
            source = "pc" if name == "pc" else "expert"
            rows.append({"metric": f"weight_{source}", "value": entry["weight"], "step": run.history[-1]["round"]})
    return rows


def oracle_weights_cell(config: dict, seed: int) -> dict:
    """The weights the refit would reach with every pair's true answer (sweep ``igda-fusion-oracle-p1``,
    the same prior precision 1; unregularised, near-separable sources send them to infinity): the
    target against which the weights learned from the tested pairs are measured."""
    settings = DiscoverySettings(
        **arm_settings(config["graph"], config["rows"], config["expert"], "learned"), seed=seed
    )
    values = start_discovery(replace(settings, rounds=0), durable=False).values
    truth = set(graph_spec(settings.graph).edges)
    answers = np.array([tuple(p) in truth for p in values["pairs"]], dtype=float)
    fit = fit_weights(fusion_logits(values["sources"]), answers, values["fusion"]["start_bias"], np.ones(2), 1.0)
    return {"oracle_weight_expert": float(fit.weights[0]), "oracle_weight_pc": float(fit.weights[1])}


def configs(graphs: list[str], rows: list[int], experts: list[str]) -> list[dict]:
    """Cells sharing a data sample are adjacent, so that a worker's cache computes PC once."""
    out = []
    for graph in graphs:
        for n in rows:
            out.append({"graph": graph, "rows": n, "expert": "-", "arm": "pc"})
            for expert in experts:
                out += [{"graph": graph, "rows": n, "expert": expert, "arm": arm} for arm in ARMS if arm != "pc"]
    return out


# -- report ----------------------------------------------------------------------------------
def final_f1(db: RunsDB) -> pd.DataFrame:
    """One row per run: graph, rows, expert, arm, seed, final F1 and SHD, F1 area, AUROC at the ends."""
    wide = db.wide(EXPERIMENT)
    keys = ["graph", "rows", "expert", "arm", "seed"]
    last = wide[wide["step"] == wide.groupby(keys)["step"].transform("max")].set_index(keys)
    first = wide[wide["step"] == 0].set_index(keys)
    area = wide.groupby(keys)["f1"].mean().rename("f1_area")
    out = pd.DataFrame({"f1": last["f1"], "shd": last["shd"], "f1_prior": first["f1"]}).join(area)
    out["auroc_final"], out["auroc_prior"] = last["auroc"], first["auroc"]
    for column in ("weight_expert", "weight_pc"):
        if column in last:
            out[column] = last[column]
    return out.reset_index()


def with_pc_per_expert(runs: pd.DataFrame) -> pd.DataFrame:
    """The PC-alone runs (expert "-") copied under every expert, so each expert's table has them."""
    pc = runs[runs["arm"] == "pc"]
    experts = [e for e in runs["expert"].unique() if e != "-"]
    return pd.concat([runs[runs["arm"] != "pc"], *(pc.assign(expert=e) for e in experts)], ignore_index=True)


def comparisons(runs: pd.DataFrame, metric: str = "f1") -> pd.DataFrame:
    """Per (expert, rows): the learned fusion against the better single source and the fixed fusion."""
    out = []
    for (expert, rows), part in with_pc_per_expert(runs).groupby(["expert", "rows"]):
        table = part.pivot_table(index=["graph", "seed"], columns="arm", values=metric)
        if not {"expert", "pc", "learned", "fixed"} <= set(table.columns):
            continue
        by_graph = table.groupby(level="graph").mean()
        better = by_graph[["expert", "pc"]].idxmax(axis=1)  # per graph, the better single source on average
        best_runs = pd.concat([table.loc[[graph], arm] for graph, arm in better.items()])
        row = {"expert": expert, "rows": rows, "graphs": len(by_graph), "runs": len(table)}
        for arm in ARMS:
            if arm in table:
                covered = table[arm].notna().groupby(level="graph").any()
                mean = f"{table[arm].mean():.3f}"
                # an arm recorded on fewer graphs than the others is a mean over those graphs only
                row[f"{metric} {arm}"] = mean if covered.all() else f"{mean} ({int(covered.sum())} graphs)"
        for name, rival, rival_by_graph in (
            ("best single", best_runs, by_graph[["expert", "pc"]].max(axis=1)),
            ("fixed", table["fixed"], by_graph["fixed"]),
        ):
            diff, p, verdict = paired_test(table["learned"], rival.reindex(table.index))
            margin = by_graph["learned"] - rival_by_graph
            won, lost = int((margin > 1e-9).sum()), int((margin < -1e-9).sum())
            row[f"vs {name}: graphs W/T/L"] = f"{won}/{len(margin) - won - lost}/{lost}"
            row[f"vs {name}: diff, p"] = f"{diff:+.3f}, p={p:.3f} ({verdict})"
        for arm in ("learned+explore", "learned+lookahead"):  # each against the learned fusion as it is
            if arm in table:
                diff, p, verdict = paired_test(table[arm], table["learned"])
                row[f"{arm} vs learned"] = f"{diff:+.3f}, p={p:.3f} ({verdict})"
        out.append(row)
    return pd.DataFrame(out)


def report(db: RunsDB, graphs: list[str] | None = None, experts: list[str] | None = None) -> str:
    """The tables over ``graphs`` and ``experts`` (default: all in the database)."""
    if EXPERIMENT not in set(db.experiments()["experiment"]):
        return f"no {EXPERIMENT} runs in the database yet"
    runs = final_f1(db)
    if graphs:
        runs = runs[runs["graph"].isin(graphs)]
    if experts:
        runs = runs[runs["expert"].isin([*experts, "-"])]
    lines = ["### igda-fusion: final F1 (mean over graphs and seeds) and the learned fusion's comparisons\n"]
    everywhere = set(runs["graph"])
    for arm, part in runs.groupby("arm"):
        if set(part["graph"]) != everywhere:
            graphs_of_arm = ", ".join(g for g in BENCHMARKS if g in set(part["graph"]))
            lines.append(f"(arm {arm} is recorded on {graphs_of_arm} only: its means are over those graphs)\n")
    lines.append(comparisons(runs).to_markdown(index=False))
    lines.append("\n### the same for the area under the F1-versus-experiments curve\n")
    lines.append(comparisons(runs, "f1_area").to_markdown(index=False))
    fused = runs[runs["arm"].isin(["learned", "learned+explore", "learned+lookahead"])]
    if "weight_expert" in fused:
        columns = ["weight_expert", "weight_pc"]
        if ORACLE in set(db.experiments()["experiment"]):  # the weights every pair's answer would give
            oracle = db.wide(ORACLE)[["graph", "rows", "expert", "seed", "oracle_weight_expert", "oracle_weight_pc"]]
            fused = fused.merge(oracle, on=["graph", "rows", "expert", "seed"], how="left")
            for source in ("expert", "pc"):
                fused[f"error_{source}"] = (fused[f"weight_{source}"] - fused[f"oracle_weight_{source}"]).abs()
            columns += ["oracle_weight_expert", "oracle_weight_pc", "error_expert", "error_pc"]
        weights = fused.groupby(["expert", "rows", "arm"])[columns].mean().round(2)
        lines.append(
            "\n### learned weights after the last round, the weights all pairs' answers give, and the absolute error"
            " (mean over graphs and seeds)\n"
        )
        lines.append(weights.to_markdown())
    for column, when in (("auroc_prior", "round 0"), ("auroc_final", "the last round")):
        auroc = with_pc_per_expert(runs).pivot_table(index=["expert", "rows"], columns="arm", values=column)
        lines.append(f"\n### AUROC of the beliefs against the true edges, {when} (mean over graphs and seeds)\n")
        lines.append(auroc.round(3).to_markdown())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--graphs", nargs="+", default=None, help="default: the 8 benchmarks")
    parser.add_argument("--rows", nargs="+", type=int, default=ROWS, help="observational rows n")
    parser.add_argument("--experts", nargs="+", default=EXPERTS)
    parser.add_argument("--quick", action="store_true", help="n = 200, simulated 0.6, 2 seeds (cancer and asia)")
    parser.add_argument("--report-only", action="store_true")
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    db = RunsDB(args.db)
    if args.quick:
        args.graphs, args.rows, args.experts, args.seeds = (
            args.graphs or ["cancer", "asia"],
            [200],
            ["simulated:0.6"],
            2,
        )
    args.graphs = args.graphs or list(BENCHMARKS)
    if not args.report_only:
        sweep = Sweep(EXPERIMENT, fusion_cell, configs(args.graphs, args.rows, args.experts), list(range(args.seeds)))
        run_sweep_from_arguments(sweep, db, args)
        fused = [{k: c[k] for k in ("graph", "rows", "expert")} for c in sweep.configs if c["arm"] == "learned"]
        run_sweep_from_arguments(Sweep(ORACLE, oracle_weights_cell, fused, sweep.seeds), db, args)
    print(report(db, args.graphs, args.experts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
