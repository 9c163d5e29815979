"""Reproduction: DDEQ against PointNet and a weight-tied unroll, on point-cloud classification and completion.

After Geuter et al. (2025), "DDEQ: Distributional deep equilibrium models through Wasserstein
gradient flows". Claims checked: the forward flow drives MMD(Z, f(Z)) down by orders of magnitude;
predictions do not depend on the order of the input points; accuracy comparable to a PointNet with
several times more parameters; a toy completion fills a removed region.

Classification grid (sweep ``ddeq-classify``): data digits and 3-D shapes (:mod:`discolab.core.ddeq.data`)
x model: DDEQ, the unrolled ablation (same layer, 10 explicit weight-tied steps), PointNet at
Qi et al.'s widths (~0.8M parameters) and at about DDEQ's size; each for every seed, same epochs.
Rows: test accuracy, parameters, the largest logit change under shuffled input points, the flow's
steps and relative residual, and (DDEQ) the relative residual trace of a 100-step flow on test
clouds after training and at initialisation (metrics ``trace``/``trace_init``, by step).

Completion (sweep ``ddeq-completion``, DDEQ and the unrolled ablation, and the :data:`ABLATIONS`:
implicit differentiation instead of the phantom gradient, and f's residual gain starting at 1 instead
of 0.1): 2-D shapes with a quarter of the points cut around a random point; MMD^2 (exact energy
distance) and Chamfer distance to the whole cloud of the cut input and of the output particles (DDEQ
also after 4x the flow steps: ``_long``), and the spread (std) of the output points against the
target's.

Trained DDEQs are saved as DATA_HOME/ddeq/<data>-seed-<seed>.pt (``completion-ddeq`` and
``completion-unrolled`` for the completion models) for the dashboard.

Run: ``python -m discolab.experiments.ddeq_eval [--seeds 5] [--epochs 30]`` (about 2 hours on
two cores; ``--quick``: a smoke test of a minute).
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
from discolab.core.paths import data_path
from discolab.core.runs import RunsDB
from discolab.experiments.sweep import Sweep, add_sweep_arguments, print_result, run_sweep

CLASSIFY = "ddeq-classify"
COMPLETE = "ddeq-completion"
RIESZ = {"bandwidth": 0.05, "flow_decay": 0.1}  # the ablation: a nearly exact Riesz kernel, a decaying step
MODELS = {  # name in the tables -> cell settings
    "ddeq": {"model": "ddeq"},
    "ddeq-riesz": {"model": "ddeq", **RIESZ},
    "unrolled": {"model": "unrolled", "unroll_steps": 10},
    "pointnet": {"model": "pointnet", "pointnet_size": "full"},
    "pointnet-small": {"model": "pointnet", "pointnet_size": "small"},
}
DATASETS = ("digits", "shapes")
COMPLETION_EPOCHS = 20
TRACE_STEPS = 100
TRACE_REPORTED = (0, 10, 25, 50, 100)
DEPTHS = (1, 2, 5, 10, 20, 30, 60, 120)  # flow steps at which accuracy is scored (trained at 30)
ABLATIONS = {  # completion variants beside the two main models: the backward pass, and f's initial gain
    "ddeq-implicit": {"model": "ddeq", "backward": "implicit"},
    "ddeq-gain-1": {"model": "ddeq", "residual_scale": 1.0},
    "unrolled-gain-1": {"model": "unrolled", "residual_scale": 1.0},
}
IMAGE = "ddeq_results.png"


def model_path(name: str, seed: int) -> Path:
    return data_path("ddeq", f"{name}-seed-{seed}.pt")


def save_model(model, path: Path, config: dict, seed: int, metrics: dict) -> None:
    from discolab.core.files import save_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic(  # a reader (the dashboard) never sees half a file
        {
            "state": model.state_dict(),
            "config": model.config.__dict__,
            "cell": config,
            "seed": seed,
            "metrics": metrics,
        },
        path,
    )


def load_model(path: Path):
    """A saved DDEQ and its record (config, seed, metrics)."""
    import torch
    from discolab.core.ddeq.model import DDEQ, DDEQConfig
    from discolab.core.errors import DiscolabError

    if not Path(path).is_file():
        raise DiscolabError(f"no saved DDEQ at {path}: run `discolab ddeq eval` first")
    try:
        record = torch.load(path, weights_only=True)  # tensors and plain values only: no code runs on load
        known = {f.name for f in fields(DDEQConfig)}  # files from older versions carry retired settings
        model = DDEQ(DDEQConfig(**{k: v for k, v in record["config"].items() if k in known}))
        model.load_state_dict(record["state"])
    except (KeyError, TypeError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise DiscolabError(f"{path} is not a saved DDEQ ({err})") from None
    model.init_seed = record["seed"]
    return model.eval(), record


def classify_cell(config: dict, seed: int) -> list[dict]:
    """Train and score one (data, model). A DDEQ also gets its accuracy at each flow depth of
    :data:`DEPTHS` (metric ``accuracy_depth``, step = depth) and its residual trace, trained and at
    initialisation; the default DDEQ is saved for the dashboard."""
    import torch
    from discolab.core.ddeq.train import accuracy_by_depth, build_model, dataset_for, relative_residual_trace, run

    model, metrics = run({k: v for k, v in config.items() if k != "variant"}, seed)
    rows = [{"metric": k, "value": float(v), "step": 0} for k, v in metrics.items()]
    if config["model"] == "ddeq":
        _, test = dataset_for(config, seed)
        if config["variant"] == "ddeq":
            save_model(model, model_path(config["data"], seed), config, seed, metrics)
        rows += [
            {"metric": "accuracy_depth", "value": v, "step": k}
            for k, v in accuracy_by_depth(model, test, DEPTHS).items()
        ]
        torch.manual_seed(seed)
        fresh = build_model("ddeq", test.point_dim, len(test.classes), **config)
        fresh.init_seed = seed
        for metric, trained in (("trace", model), ("trace_init", fresh)):
            trace = relative_residual_trace(trained, test, TRACE_STEPS).median(0).values
            rows += [{"metric": metric, "value": float(v), "step": k} for k, v in enumerate(trace)]
    return rows


def completion_cell(config: dict, seed: int) -> dict:
    from discolab.core.ddeq.train import run_completion

    model, metrics, _, _ = run_completion({k: v for k, v in config.items() if k != "variant"}, seed)
    if "variant" not in config:  # the two main models are saved for the dashboard
        save_model(model, model_path(f"completion-{config['model']}", seed), config, seed, metrics)
    return metrics


def classify_configs(epochs: int, quick: bool = False) -> list[dict]:
    out = []
    for data in DATASETS:
        for name, settings in MODELS.items():
            config = {"variant": name, "data": data, **settings, "epochs": epochs}
            if quick:
                config["n_per_class"] = 20
            out.append(config)
    return out


def sweeps(seeds: list[int], epochs: int, quick: bool = False) -> tuple[Sweep, Sweep]:
    suffix = "-quick" if quick else ""
    classify = Sweep(
        CLASSIFY + suffix, classify_cell, classify_configs(epochs, quick), seeds, ["variant", "data", "epochs"]
    )
    base = {"epochs": COMPLETION_EPOCHS if not quick else epochs, "n_per_class": 20 if quick else 150}
    completion = [{"model": model, **base} for model in ("ddeq", "unrolled")]
    if not quick:
        completion += [
            {"model": settings["model"], **base, "variant": name, **settings} for name, settings in ABLATIONS.items()
        ]
    return classify, Sweep(COMPLETE + suffix, completion_cell, completion, seeds, ["model", "variant", "epochs"])


# (kernel smoothing eps, step size, step decay): lr_k = lr / (1 + decay k)
FLOW_SETTINGS = (
    (1e-6, 1.0, 0.0),
    (1e-6, 3.0, 0.0),
    (1.0, 1.0, 0.0),
    (3.0, 3.0, 0.0),
    (RIESZ["bandwidth"], 3.0, 0.0),
    (RIESZ["bandwidth"], 3.0, RIESZ["flow_decay"]),
)


def exact_residual(model, points, mask, path) -> tuple[float, float]:
    """Median over clouds of the exact energy distance MMD^2(Z, f(Z)) at the first and last particles of
    ``path`` (from ``model.flow_path``)."""
    import torch
    from discolab.core.ddeq.mmd import mmd2

    with torch.no_grad():
        h = model.encoder(points, mask)
        start, end = (mmd2(z, model.layer(z, h, mask)).median().item() for z in (path[0], path[-1]))
    return start, end


def exact_residual_table(seeds: int = 5, n: int = 128) -> pd.DataFrame:
    """For the saved classifiers: the exact energy distance to the fixed point, start and after 100 steps."""
    from discolab.core.ddeq.train import dataset_for

    rows = []
    for data in DATASETS:
        for seed in range(seeds):
            path = model_path(data, seed)
            if not path.is_file():
                continue
            model, record = load_model(path)
            test = dataset_for(record["cell"], seed)[1]
            test = test.subset(range(min(n, len(test))))
            path, _ = model.flow_path(test.points, test.mask, TRACE_STEPS)
            start, end = exact_residual(model, test.points, test.mask, path)
            rows.append({"data": data, "seed": seed, "exact MMD² start": start, f"@{TRACE_STEPS}": end})
    return pd.DataFrame(rows)


def full_gradient_path(model, points, mask, steps: int, lr: float):
    """The alternative the flow is measured against: plain gradient descent on the residual
    R(Z) = MMD^2(Z, f(Z; X)) itself, through f's dependence on Z (autograd), at step ``lr`` x m
    (the flow's velocity is m times a particle's gradient). Returns the path and R along it, as
    ``model.flow_path`` does."""
    import torch
    from discolab.core.ddeq.mmd import mmd2

    config = model.config
    with torch.no_grad():
        h = model.encoder(points, mask)
    z = model.initial_particles(points.shape[0], points.dtype)
    path, residuals = [z], []
    for _ in range(steps + 1):
        z = z.detach().requires_grad_(True)
        residual = mmd2(z, model.layer(z, h, mask), kernel=config.kernel, bandwidth=config.bandwidth)
        (gradient,) = torch.autograd.grad(residual.sum(), z)
        residuals.append(residual.detach())
        if len(path) <= steps:
            z = z.detach() - lr * config.n_particles * gradient
            path.append(z)
    return torch.stack([p.detach() for p in path]), torch.stack(residuals, 1)


def flow_study(steps: int = 150, n: int = 64, seed: int = 0) -> pd.DataFrame:
    """The forward flow on an untrained layer (digits test clouds) for each smoothing / step size /
    decay, and plain gradient descent on the residual (eps 3, step 3): median relative residual in
    the flow's own kernel at a few steps, and the exact energy distance MMD^2(Z, f(Z)) at the start
    and the end (comparable across settings)."""
    import torch
    from discolab.core.ddeq.data import digit_clouds, split
    from discolab.core.ddeq.model import DDEQ, DDEQConfig

    test = split(digit_clouds(seed=seed), seed=seed)[1].subset(range(n))
    rows = []
    for method, (eps, lr, decay) in [("flow", s) for s in FLOW_SETTINGS] + [("gradient of R", (3.0, 3.0, 0.0))]:
        torch.manual_seed(seed)
        model = DDEQ(DDEQConfig(bandwidth=eps, flow_lr=lr, flow_decay=decay)).eval()
        if method == "flow":
            path, residuals = model.flow_path(test.points, test.mask, steps)
        else:
            path, residuals = full_gradient_path(model, test.points, test.mask, steps, lr)
        relative = (residuals / residuals[:, :1]).median(0).values
        exact = exact_residual(model, test.points, test.mask, path)
        row = {"method": method, "smoothing eps": eps, "step size": lr, "decay": decay}
        row |= {f"relative @{k}": relative[k].item() for k in (10, 50, steps)}
        rows.append(row | {"exact MMD² start": exact[0], f"exact MMD² @{steps}": exact[1]})
    return pd.DataFrame(rows)


def classification_table(db: RunsDB, experiment: str = CLASSIFY) -> pd.DataFrame:
    """Per data set and model: parameters, accuracy (mean, sd, per seed), permutation gap, flow statistics."""
    table = db.wide(experiment)
    table = table[table["step"] == 0]
    rows = []
    for (data, name), part in table.groupby(["data", "variant"], sort=False):
        row = {
            "data": data,
            "model": name,
            "params": int(part["params"].iloc[0]),
            "accuracy": part["accuracy"].mean(),
            "sd": part["accuracy"].std(ddof=1) if len(part) > 1 else np.nan,
            "per seed": " ".join(f"{v:.3f}" for v in part.sort_values("seed")["accuracy"]),
            "max permutation gap": part["permutation_gap"].max(),
            "train s": part["train_seconds"].mean(),
        }
        if "flow_steps_mean" in part and part["flow_steps_mean"].notna().any():
            row["flow steps"] = part["flow_steps_mean"].mean()
            row["residual (median)"] = part["relative_residual_median"].median()
        rows.append(row)
    order = {name: k for k, name in enumerate(MODELS)}
    if not rows:
        return pd.DataFrame(rows)
    result = pd.DataFrame(rows)
    return result.sort_values(["data", "model"], key=lambda c: c.map(order) if c.name == "model" else c)


def trace_table(db: RunsDB, experiment: str = CLASSIFY) -> pd.DataFrame:
    """Median over seeds of the median relative residual at the reported steps, trained and at init."""
    table = db.wide(experiment)
    rows = []
    for metric in ("trace", "trace_init"):
        if metric not in table:
            continue
        part = table[table[metric].notna()]
        for (data, variant), by_data in part.groupby(["data", "variant"]):
            curve = by_data.groupby("step")[metric].median()
            rows.append(
                {"data": data, "model": variant, "layer": "trained" if metric == "trace" else "initial"}
                | {f"step {k}": curve.get(k, np.nan) for k in TRACE_REPORTED}
            )
    return pd.DataFrame(rows)


def depth_table(db: RunsDB, experiment: str = CLASSIFY) -> pd.DataFrame:
    """Test accuracy (mean ± sd over seeds) when the flow runs exactly k steps, per data set and DDEQ."""
    table = db.wide(experiment)
    if "accuracy_depth" not in table:
        return pd.DataFrame()
    part = table[table["accuracy_depth"].notna()]
    rows = []
    for (data, variant), by in part.groupby(["data", "variant"]):
        stats = by.groupby("step")["accuracy_depth"].agg(["mean", "std"])
        rows.append(
            {"data": data, "model": variant, "seeds": by["seed"].nunique()}
            | {f"{k} steps": f"{stats.loc[k, 'mean']:.3f} ± {stats.loc[k, 'std']:.3f}" for k in stats.index}
        )
    return pd.DataFrame(rows)


COMPLETION_METRICS = (
    "mmd2_input",
    "mmd2_output",
    "mmd2_output_long",
    "chamfer_input",
    "chamfer_output",
    "chamfer_output_long",
    "spread_output",
    "spread_output_long",
    "spread_target",
)


def completion_table(db: RunsDB, experiment: str = COMPLETE) -> pd.DataFrame:
    """Per metric (rows) and model: mean over seeds and the per-seed values."""
    table = db.wide(experiment)
    table = table[table["step"] == 0]
    table = table.assign(label=table["variant"].fillna(table["model"]) if "variant" in table else table["model"])
    order = ["ddeq", "unrolled", *ABLATIONS]
    rows = []
    for metric in COMPLETION_METRICS:
        row = {"metric": metric}
        for model, part in sorted(table.groupby("label"), key=lambda g: order.index(g[0]) if g[0] in order else 99):
            values = part.sort_values("seed")[metric] if metric in part else pd.Series(dtype=float)
            if values.notna().any():
                row[model] = f"{values.mean():.4f} ({' '.join(f'{v:.4f}' for v in values)})"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def verdict(table: pd.DataFrame) -> list[str]:
    """DDEQ against the full PointNet per data set: accuracy difference and parameter ratio."""
    lines = []
    for data, part in table.groupby("data", sort=False):
        by = part.set_index("model")
        if "ddeq" not in by.index or "pointnet" not in by.index:
            continue
        ddeq, pointnet = by.loc["ddeq"], by.loc["pointnet"]
        lines.append(
            f"{data}: DDEQ {ddeq['accuracy']:.3f} with {pointnet['params'] / ddeq['params']:.1f}x fewer parameters "
            f"than PointNet {pointnet['accuracy']:.3f} (difference {ddeq['accuracy'] - pointnet['accuracy']:+.3f})"
        )
    return lines


def figure(db: RunsDB, classify: str = CLASSIFY, completion_seed: int = 0):
    """Accuracy against parameters per data set; the flow's relative residual by step; completion examples."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    fig = Figure(figsize=(14, 7.5))
    grid = fig.add_gridspec(2, 4)
    table = db.wide(classify)
    cells = table[table["step"] == 0]
    for column, data in enumerate(DATASETS):
        ax = fig.add_subplot(grid[0, column])
        for name, part in cells[cells["data"] == data].groupby("variant"):
            ax.errorbar(part["params"].mean(), part["accuracy"].mean(), part["accuracy"].std(), marker="o", capsize=3)
            ax.annotate(name, (part["params"].mean(), part["accuracy"].mean()), fontsize=8)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor-tick labels overlap on a decade
        ax.set_xlabel("parameters")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{data}: accuracy vs parameters")
    ax = fig.add_subplot(grid[0, 2])
    for metric, style in (("trace", "-"), ("trace_init", ":")):
        if metric not in table:
            continue
        for (data, variant), part in table[table[metric].notna()].groupby(["data", "variant"]):
            curve = part.groupby("step")[metric].median()
            label = f"{data} {variant}, {'trained' if metric == 'trace' else 'initial'}"
            ax.plot(curve.index, curve.values, style, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("flow step")
    ax.set_ylabel("MMD²(Z, f(Z)) / initial (median cloud)")
    ax.set_title("forward flow: residual to the fixed point")
    ax.legend(fontsize=6)
    if "accuracy_depth" in table:
        ax = fig.add_subplot(grid[0, 3])
        for (data, variant), part in table[table["accuracy_depth"].notna()].groupby(["data", "variant"]):
            curve = part.groupby("step")["accuracy_depth"].agg(["mean", "std"])
            ax.errorbar(curve.index, curve["mean"], curve["std"], marker="o", capsize=2, label=f"{data} {variant}")
        ax.set_xscale("log")
        ax.axvline(30, color="gray", linestyle=":", linewidth=1)
        ax.set_xlabel("flow steps at test (trained at 30)")
        ax.set_ylabel("test accuracy")
        ax.set_title("accuracy against the flow's depth")
        ax.legend(fontsize=6)
    path = model_path("completion-ddeq", completion_seed)
    if path.is_file():
        from discolab.core.ddeq.data import remove_disc, shape_clouds, split

        model, record = load_model(path)
        _, test = split(
            shape_clouds(n_per_class=record["cell"].get("n_per_class", 150), dim=2, seed=record["seed"]),
            seed=record["seed"],
        )
        import torch

        part = test.subset(range(0, len(test), max(1, len(test) // 4))[:4])
        kept = remove_disc(part.points, part.mask, record["metrics"]["fraction"], torch.Generator().manual_seed(1))
        with torch.no_grad():
            output = model(part.points, kept)
        for column in range(4):
            ax = fig.add_subplot(grid[1, column])
            full = part.points[column][part.mask[column]]
            cut = part.points[column][kept[column]]
            ax.scatter(full[:, 0], full[:, 1], s=30, color="lightgray", label="whole cloud")
            ax.scatter(cut[:, 0], cut[:, 1], s=8, color="tab:blue", label="input (cut)")
            ax.scatter(output[column, :, 0], output[column, :, 1], s=8, marker="x", color="tab:red", label="DDEQ")
            ax.set_aspect("equal")
            ax.set_title(f"completion: {part.classes[int(part.labels[column])]}")
            if column == 0:
                ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def report(db: RunsDB, classify: str = CLASSIFY, completion: str = COMPLETE, docs_image: Path | None = None) -> str:
    table = classification_table(db, classify)
    path = data_path("results", IMAGE)
    figure(db, classify).savefig(path, dpi=80)
    if docs_image is not None:
        shutil.copyfile(path, docs_image)
    lines = [
        "Classification (test accuracy over seeds; permutation gap = largest |logit change| under shuffled points):",
        "",
        table.round(4).to_markdown(index=False),
        "",
        *verdict(table),
        "",
        "Forward flow, relative residual MMD²(Z_k, f(Z_k)) / MMD²(Z_0, f(Z_0)), median cloud:",
        "",
        trace_table(db, classify).to_markdown(index=False, floatfmt=".2e"),
        "",
        "Test accuracy when the flow runs exactly k steps (mean ± sd over seeds; trained at 30):",
        "",
        depth_table(db, classify).to_markdown(index=False),
        "",
        "The same residual in the exact energy distance (no smoothing), saved classifiers, median cloud:",
        "",
        exact_residual_table().to_markdown(index=False, floatfmt=".2e"),
        "",
    ]
    if completion in set(db.experiments()["experiment"]):
        lines += ["Completion (2-D shapes, a quarter of the points cut; lower is better):", ""]
        lines += [completion_table(db, completion).to_markdown(index=False), ""]
    lines.append(f"plot: {path}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``discolab ddeq eval`` and ``python -m discolab.experiments.ddeq_eval``."""
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--data", choices=DATASETS, nargs="+", default=list(DATASETS), help="classification data sets")
    parser.add_argument("--quick", action="store_true", help="tiny data and 2 epochs: a smoke test")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--flow-study", action="store_true", help="only the flow's kernel / step-size study")
    parser.add_argument("--docs-image", type=Path, default=None, help="also copy the plot here")
    add_sweep_arguments(parser)


def eval_command(args: argparse.Namespace) -> int:
    if args.flow_study:
        print(flow_study().to_markdown(index=False, floatfmt=".2e"))
        return 0
    db = RunsDB(args.db)
    epochs = 2 if args.quick else args.epochs
    classify, completion = sweeps(list(range(args.seeds)), epochs, args.quick)
    classify.configs = [c for c in classify.configs if c["data"] in args.data]
    if not args.report_only:
        for plan in (classify, completion):
            print(run_sweep(plan, db, args.executor, args.workers, args.address).line())
    print(report(db, classify.name, completion.name, args.docs_image))
    return 0


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of one training run (``discolab ddeq train``)."""
    parser.add_argument("--data", choices=DATASETS, default="digits")
    parser.add_argument("--model", choices=list(MODELS), default="ddeq")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--particles", type=int, default=10, help="DDEQ: latent particles m")
    parser.add_argument("--d-model", type=int, default=64, help="DDEQ: particle dimension")
    parser.add_argument("--backward", choices=["phantom", "implicit"], default="phantom")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON")


def train_command(args: argparse.Namespace) -> int:
    """Train and evaluate one model; print its metrics (DDEQs are saved for the dashboard)."""

    from discolab.core.ddeq.train import run

    config = {"data": args.data, **MODELS[args.model], "epochs": args.epochs}
    if args.model in ("ddeq", "unrolled"):
        config.update(n_particles=args.particles, d_model=args.d_model, backward=args.backward)
    model, metrics = run(config, args.seed, progress=lambda line: print(line, file=sys.stderr))
    if args.model == "ddeq":
        save_model(model, model_path(args.data, args.seed), config, args.seed, metrics)
    print_result(config, args.seed, metrics, args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return eval_command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
