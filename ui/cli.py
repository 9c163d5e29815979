"""The ``discolab`` command line: a thin layer over functions in core/, agents/ and experiments/.

Errors caused by input or environment (:class:`DiscolabError`, bad arguments, a full disk, a
read-only directory) print as one line and exit 2. Anything else is a bug: it prints one line
naming the error and how to see the traceback (``--debug`` or ``DISCOLAB_DEBUG=1``), exit 1.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from discolab.core.errors import DiscolabError, one_line


class OneLineParser(argparse.ArgumentParser):
    """argparse, with its errors as one line (the usage is one ``--help`` away)."""

    def error(self, message: str):
        self.exit(2, f"discolab: error: {one_line(f'{self.prog}: {message}')} (see {self.prog} --help)\n")


def probability(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    value = _finite(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1")
    return value


def share(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    value = _finite(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not > 0")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


# -- graphs -------------------------------------------------------------------------------------
def cmd_graphs_list(args: argparse.Namespace) -> int:
    from discolab.core.graphs import BENCHMARKS, load_benchmark

    rows = []
    for name in BENCHMARKS:
        spec = load_benchmark(name)
        rows.append({"name": name, "nodes": len(spec.variables), "edges": len(spec.edges), "context": spec.context})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'graph':<12}{'nodes':>6}{'edges':>7}  context")
    for r in rows:
        context = r["context"] if len(r["context"]) <= 70 else r["context"][:67] + "..."
        print(f"{r['name']:<12}{r['nodes']:>6}{r['edges']:>7}  {context}")
    print("Each also exists as NAME-renamed (neutral variable codes, same descriptions).")
    return 0


def cmd_graphs_show(args: argparse.Namespace) -> int:
    from discolab.core.graphs import resolve_graph

    spec = resolve_graph(args.graph)
    if args.json:
        print(json.dumps(spec.to_dict(), indent=2))
        return 0
    print(
        f"{spec.name}: {len(spec.variables)} variables" + (f", {len(spec.edges)} true edges" if spec.has_truth else "")
    )
    if spec.context:
        print(f"context: {spec.context}")
    width = max(len(n) for n in spec.names)
    print("\nvariables:")
    for v in spec.variables:
        print(f"  {v.name:<{width}}  {v.description}")
    if spec.has_truth:
        print("\ntrue edges:")
        for u, v in spec.edges:
            print(f"  {u} -> {v}")
    return 0


# -- llm ----------------------------------------------------------------------------------------
def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="local", choices=["local", "openai"], help="LLM backend (default local)")
    parser.add_argument(
        "--model", default=None, help="local: smollm2 (default), gemma3-270m, a path; openai: model name"
    )
    parser.add_argument(
        "--base-url",
        default=None,
        help="openai: server URL, or several serving one model joined by commas (URL1,URL2: one per GPU; "
        "requests go to the least busy, and to another when one fails) (default $OPENAI_BASE_URL)",
    )
    parser.add_argument("--dtype", default=None, choices=["auto", "float32", "bfloat16"], help="local: weights dtype")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the response cache")
    server = parser.add_argument_group("openai backend (defaults: $DISCOLAB_OPENAI_TIMEOUT etc., else as shown)")
    server.add_argument("--timeout", type=_finite, default=None, help="seconds a request may take alone (60)")
    server.add_argument(
        "--concurrency", type=positive_int, default=None, help="most requests in flight, lowered while it is slow (8)"
    )
    server.add_argument(
        "--llm-samples", type=positive_int, default=None, help="sampled answers per question without logprobs (5)"
    )
    server.add_argument("--confidence", choices=("auto", "logprobs", "samples"), default=None, help="(auto)")


def add_calibration_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--calibration",
        default="content-free",
        choices=["content-free", "none"],
        help="calibrate LLM answers against a content-free question (default) or use them raw",
    )


def backend_from_args(args: argparse.Namespace):
    from discolab.core.llm import make_backend

    options = {"model": args.model}
    server = server_options(args)
    if args.backend == "local":
        options["dtype"] = args.dtype
    else:
        options.update(base_url=args.base_url, **server)
    return make_backend(args.backend, cache=not args.no_cache, **options)


def server_options(args: argparse.Namespace) -> dict:
    """The openai backend's settings given on the command line (None: the environment's or the default)."""
    options = {
        "timeout": args.timeout,
        "concurrency": args.concurrency,
        "samples": args.llm_samples,
        "confidence": args.confidence,
    }
    given = [f"--{k.replace('samples', 'llm-samples')}" for k, v in options.items() if v is not None]
    if given and args.backend != "openai":
        raise DiscolabError(f"{', '.join(given)} {'apply' if len(given) > 1 else 'applies'} to --backend openai only")
    return options


def cmd_llm_ask(args: argparse.Namespace) -> int:
    from discolab.core.llm import yes_no_prompt

    backend = backend_from_args(args)
    answer = backend.score_yes_no([yes_no_prompt(args.question, args.context or "")])[0]
    result = {"question": args.question, "backend": backend.identity(), **answer.as_dict()}
    if hasattr(backend, "cache"):
        result["cache"] = backend.cache.stats()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        flag = "  (fallback: no usable answer)" if answer.fallback else ""
        print(f"P(yes) = {answer.p_yes:.3f}  [{answer.method}, answer mass {answer.answer_mass:.2f}]{flag}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from discolab.core.graphs import resolve_graph
    from discolab.core.igda.prior import predict_graph

    spec = resolve_graph(args.graph)
    backend = backend_from_args(args)
    if args.method != "prior":
        return _print_baseline(args, spec, backend)
    prediction = predict_graph(
        spec, backend, args.threshold, args.seed, calibration=args.calibration, progress=not args.json
    )
    result = {"backend": backend.identity(), "seed": args.seed, **prediction.as_dict()}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    ranked = sorted(prediction.beliefs.items(), key=lambda item: -item[1])
    truth = set(spec.edges or ())
    print(
        f"{spec.name}: static LLM prediction ({backend.identity()['model']}), threshold {args.threshold}, "
        f"calibration {args.calibration}"
    )
    print(f"top {args.top} edges by P(u -> v):" + ("   (* = true edge)" if spec.has_truth else ""))
    for (u, v), p in ranked[: args.top]:
        print(f"  {p:.3f}  {u} -> {v}" + ("  *" if (u, v) in truth else ""))
    print(f"predicted edges above threshold: {len(prediction.edges)}")
    if prediction.fallbacks:
        print(f"warning: {len(prediction.fallbacks)} pairs had no usable answer and were set to 0.5")
    if prediction.metrics:
        m = prediction.metrics
        print(
            f"precision {m.precision:.3f}  recall {m.recall:.3f}  F1 {m.f1:.3f}  SHD {m.shd}  "
            f"skeleton F1 {m.skeleton_f1:.3f}"
        )
    return 0


def _print_baseline(args: argparse.Namespace, spec, backend) -> int:
    from discolab.core.igda.baselines import run_baseline

    result = run_baseline(args.method, spec, backend, seed=args.seed, progress=not args.json)
    if args.json:
        print(json.dumps({"backend": backend.identity(), "seed": args.seed, **result.as_dict()}, indent=2))
        return 0
    print(f"{spec.name}: {args.method} prompting ({backend.identity()['model']}), {result.queries} queries")
    truth = set(spec.edges or ())
    for u, v in result.edges:
        print(f"  {u} -> {v}" + ("  *" if (u, v) in truth else ""))
    if result.fallbacks:
        print(f"warning: {len(result.fallbacks)} questions had no usable answer: {', '.join(result.fallbacks)}")
    if result.metrics:
        m = result.metrics
        print(f"precision {m.precision:.3f}  recall {m.recall:.3f}  F1 {m.f1:.3f}  SHD {m.shd}")
    return 0


# -- runs -------------------------------------------------------------------------------------
def cmd_runs_list(args: argparse.Namespace) -> int:
    from discolab.core.runs import RunsDB

    db = RunsDB(args.db)
    table = db.experiments()
    if args.json:
        print(table.to_json(orient="records", indent=2))
    elif table.empty:
        print(f"no experiments in {db.url}")
    else:
        print(table.to_string(index=False))
    return 0


def cmd_runs_export(args: argparse.Namespace) -> int:
    from discolab.core.runs import RunsDB

    rows = RunsDB(args.db).export_csv(args.experiment, args.csv)
    print(f"wrote {rows} rows of {args.experiment} to {args.csv}")
    return 0


def cmd_runs_delete(args: argparse.Namespace) -> int:
    from discolab.core.runs import RunsDB

    cells = RunsDB(args.db).delete(args.experiment)
    print(f"deleted {cells} cells of {args.experiment}")
    return 0


def cmd_runs_import(args: argparse.Namespace) -> int:
    from discolab.core.runs import RunsDB

    source = args.source
    if "://" not in source:  # a file: it must exist (opening a missing one would read an empty database)
        path = Path(source).expanduser()
        if not path.is_file():
            raise DiscolabError(f"no runs database file at {path}")
        source = f"sqlite:///{path.absolute()}"
    origin, target = RunsDB(source, readonly=True), RunsDB(args.db)
    report = target.import_cells(origin, args.experiment or None)
    print(
        f"imported {report['cells']} cells ({report['rows']} rows) from {origin.url} into {target.url}; "
        f"{report['kept']} already done there were kept"
    )
    return 0


# -- scaling ----------------------------------------------------------------------------------
def cmd_scaling_analyze(args: argparse.Namespace) -> int:
    import pandas as pd
    from discolab.core.paths import data_path
    from discolab.core.runs import RunsDB
    from discolab.core.scaling import analyze
    from discolab.core.scaling.analysis import select_rows
    from discolab.core.scaling.plots import save_report_figure

    if (args.experiment is None) == (args.csv is None):
        raise DiscolabError("give exactly one of --experiment NAME or --csv FILE")
    where = {}
    for item in args.where:
        column, sep, value = item.partition("=")
        if not sep:
            raise DiscolabError(f"--where takes COLUMN=VALUE, got {item!r}")
        where[column] = value
    if args.csv:
        try:
            table = pd.read_csv(args.csv)
        except (OSError, ValueError) as err:
            raise DiscolabError(f"cannot read {args.csv}: {err}") from None
    else:
        table = RunsDB(args.db).wide(args.experiment)
    table = select_rows(table, where, args.step)
    report = analyze(table, args.scale, args.metric, args.seed_column, args.threshold, args.success)
    name = args.experiment or Path(args.csv).stem
    plot = Path(args.plot) if args.plot else data_path("results", f"scaling_{name}_{args.metric}.png")
    plot = save_report_figure(report, plot, f"{name}: {args.metric} against {args.scale}")
    if args.json:
        print(report.to_json())
        return 0
    columns = ["setting", "n", "mean", "std", "dip_pvalue", "bic_1", "bic_2", "ashman_d", "bimodal"]
    columns += ["p_success", "ci_low", "ci_high", "mean_success"]
    print(f"{name}: {args.metric} across {args.seed_column} per {args.scale}; success by {report.success_rule}")
    print(report.settings[columns].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if report.logistic:
        print("logistic fit of success on log scale:", {k: round(v, 3) for k, v in report.logistic.items()})
    if report.sharpness:
        print("sharpness:", {k: round(v, 3) for k, v in report.sharpness.items()})
    print(f"plot: {plot}")
    return 0


# -- chared ------------------------------------------------------------------------------------
def cmd_chared(args: argparse.Namespace) -> int:
    from discolab.core.chared.decode import CharEDModel, generate
    from discolab.core.chared.ensemble import check_weights

    if args.weights is not None:
        weights = args.weights
    elif len(args.models) == 2:
        weights = [args.alpha, 1.0 - args.alpha]
    else:
        weights = [1.0 / len(args.models)] * len(args.models)
    try:
        weights = check_weights(weights, len(args.models))
    except ValueError as err:
        raise DiscolabError(f"{err} (--weights, or --alpha in [0, 1] for two models)") from None
    models = [CharEDModel(name) for name in args.models]
    result = generate(args.prompt, models, weights, max_chars=args.max_chars, seed=args.seed)
    if args.json:
        record = {"models": args.models, "weights": weights, "seed": args.seed, "text": result.text}
        print(json.dumps({**record, "segments": result.segments, "chars_per_second": result.chars_per_second}))
        return 0
    print(args.prompt + result.text)
    print(f"({len(result.segments)} segments, {result.chars_per_second:.1f} characters/s)", file=sys.stderr)
    return 0


# -- interpolation ------------------------------------------------------------------------------
def cmd_interp_train(args: argparse.Namespace) -> int:
    from discolab.core.interp.anchors import AnchorConfig, train_anchors

    config = AnchorConfig(topics=6, samples_per_topic=2, epochs=3) if args.quick else AnchorConfig()
    folder = train_anchors(args.seed, config, tuple(args.attributes), progress=lambda m: print(m, file=sys.stderr))
    print(folder)
    return 0


def cmd_interp_generate(args: argparse.Namespace) -> int:
    from discolab.core.interp.interpolate import parse_sliders, steer

    try:
        alphas, lambdas = parse_sliders(args.alpha, "--alpha"), parse_sliders(args.weight, "--lambda")
        result = steer(
            args.prompt,
            alphas,
            lambdas or None,
            seed=args.seed,
            anchors_seed=args.anchors_seed,
            max_new_tokens=args.max_tokens,
        )
    except (ValueError, FileNotFoundError) as err:
        raise DiscolabError(str(err)) from None
    if args.json:
        print(json.dumps(result))
        return 0
    print(result["text"])
    print("scores: " + ", ".join(f"{k} {v:.2f}" for k, v in result["scores"].items()), file=sys.stderr)
    return 0


# -- S2T2 -----------------------------------------------------------------------------------------
def cmd_s2t2_train(args: argparse.Namespace) -> int:
    from discolab.core.s2t2.conditions import plan_dir, save_plan, train_condition
    from discolab.core.s2t2.model import S2T2LM
    from discolab.experiments.s2t2_eval import config_from_args

    config = config_from_args(args)
    model, metrics = train_condition(args.condition, config, args.seed, progress=lambda m: print(m, file=sys.stderr))
    losses = metrics.pop("losses")
    if isinstance(model, S2T2LM):
        metrics["plan"] = str(save_plan(model, config, args.seed, metrics, plan_dir(args.condition, args.seed)))
    if losses:
        metrics["first_loss"], metrics["last_loss"] = losses[0], sum(losses[-10:]) / len(losses[-10:])
    record = {"condition": args.condition, "seed": args.seed, "config": vars(config), **metrics}
    if args.json:
        print(json.dumps(record))
        return 0
    for key, value in record.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


# -- dashboard --------------------------------------------------------------------------------
def cmd_ui(args: argparse.Namespace) -> int:
    import signal
    import subprocess

    app = Path(__file__).with_name("app.py")
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", args.host, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    print(f"discolab dashboard on http://{args.host}:{args.port} (Ctrl+C stops it)")
    server = subprocess.Popen(command)

    def stop(signum, _frame):  # SIGTERM to us is SIGTERM to the server: nothing outlives `discolab ui`
        server.send_signal(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        code = server.wait()
    except KeyboardInterrupt:  # the terminal sent SIGINT to the server too; give it time to close
        try:
            code = server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code  # killed by signal N: the shell's 128 + N


# -- agent ------------------------------------------------------------------------------------
def cmd_agent(args: argparse.Namespace) -> int:
    from discolab.agents.research import AgentSettings, ask_agent

    if args.backend == "local":
        raise DiscolabError(
            "the embedded model cannot call tools; run the agent against a tool-capable "
            "OpenAI-compatible model: --backend openai [--base-url URL] --model NAME"
        )
    if args.base_url and "," in args.base_url:  # its chat client talks to one server
        raise DiscolabError("the agent takes one --base-url; several joined by commas are for discover, predict, llm")
    settings = AgentSettings(base_url=args.base_url, model=args.model or AgentSettings.model, max_steps=args.max_steps)
    answer = ask_agent(args.question, settings)
    if args.json:
        print(json.dumps(answer.as_dict(), indent=2))
        return 0
    for call in answer.tool_calls:
        result = call["result"] if len(call["result"]) < 300 else call["result"][:300] + " ..."
        print(f"[tool] {call['name']}({json.dumps(call['arguments'])}) -> {result}")
    if answer.note:
        print(f"note: {answer.note}")
    print(answer.answer)
    return 0


# -- discover ---------------------------------------------------------------------------------
def cmd_discover(args: argparse.Namespace) -> int:
    from discolab.agents.discovery import DiscoverySettings, start_discovery

    settings = DiscoverySettings(
        graph=args.graph,
        prior=args.prior,
        ensemble=",".join(args.ensemble),
        ensemble_weights=",".join(str(w) for w in (args.ensemble_weights or [1.0] * len(args.ensemble))),
        samples=args.samples,
        data=str(Path(args.data).resolve()) if args.data else None,
        ignore_columns=tuple(args.ignore_columns),
        column_types=tuple(_column_type(item) for item in args.column_type),
        required=tuple(map(tuple, args.require)),
        forbidden=tuple(map(tuple, args.forbid)),
        backend=args.backend,
        model=args.model,
        base_url=args.base_url,
        **{f"llm_{key}": value for key, value in server_options(args).items()},
        fusion_precision=args.fusion_precision,
        strategy=args.strategy,
        explore=args.explore,
        update=args.update,
        experimenter=args.experimenter,
        rounds=args.rounds,
        per_round=args.per_round,
        threshold=args.threshold,
        calibration=args.calibration,
        seed=args.seed,
        candidates=args.candidates,
        listing=args.listing,
        context_tokens=args.context_tokens,
    )
    return _drive_run(
        lambda on_event: start_discovery(settings, run_id=args.run_id, on_event=on_event),
        settings.rounds,
        args.json,
        _plot_target(args.plot),
    )


PLOT_FORMATS = (".png", ".pdf", ".svg")


def _plot_target(plot: str | None) -> Path | None:
    """``--plot FILE``, checked before the run starts: a run is not spent on a picture that cannot be saved."""
    if plot is None:
        return None
    target = Path(plot)
    if target.suffix.lower() not in PLOT_FORMATS:
        raise DiscolabError(
            f"--plot {plot}: the file's extension says its format; use one of {', '.join(PLOT_FORMATS)}"
        )
    if not target.parent.is_dir():
        raise DiscolabError(f"--plot {plot}: folder {target.parent} does not exist")
    if target.is_dir():
        raise DiscolabError(f"--plot {plot}: that is a folder, not a file")
    return target


def _column_type(item: str) -> tuple[str, str]:
    name, sep, kind = item.rpartition("=")
    if not sep or kind not in ("discrete", "continuous"):
        raise DiscolabError(f"--column-type takes NAME=discrete or NAME=continuous, got {item!r}")
    return name, kind


def cmd_resume(args: argparse.Namespace) -> int:
    from discolab.agents.discovery import resume_discovery
    from discolab.agents.discovery.run import load_run

    run = load_run(args.run_id)
    return _drive_run(
        lambda on_event: resume_discovery(args.run_id, on_event=on_event),
        run.settings.rounds,
        args.json,
        _plot_target(args.plot),
    )


def _drive_run(step, rounds: int, as_json: bool, plot: Path | None = None) -> int:
    """Run to the end, asking a person at the terminal whenever the run pauses for an answer."""
    from discolab.agents.discovery import resume_discovery
    from tqdm.auto import tqdm

    bars = []  # the bar appears with the run's first event: settings refused up front print one line only

    def on_event(event):
        if not bars:
            bars.append(tqdm(total=rounds, desc="rounds", unit="round", disable=as_json, file=sys.stderr))
        record = event.get("record")
        if record and record["round"] > 0:
            bars[0].update(1)
        if record and record["f1"] is not None:
            bars[0].set_postfix(experiments=record["experiments"], f1=f"{record['f1']:.3f}")

    try:
        run = step(on_event)
        while not run.done:
            if bars:
                bars[0].clear()
            answer = _ask_person(run.question)
            run = resume_discovery(run.run_id, answer=answer, on_event=on_event)
    finally:
        if bars:
            bars[0].close()
    if plot is not None:
        from discolab.ui.views import run_figure

        run_figure(run.values, run.history).savefig(plot, dpi=110)
        print(f"plot: {plot}", file=sys.stderr)
    if as_json:
        print(json.dumps(run.as_dict(), indent=2))
        return 0
    label = " (simulated prior)" if run.settings.prior.startswith("simulated") else ""
    print(
        f"run {run.run_id}: {run.settings.graph}{label}, strategy {run.settings.strategy}, "
        f"update {run.settings.update}, experimenter {run.settings.experimenter}"
    )
    for key in ("data", "interventions"):
        if run.values.get(key):
            print(f"{key}: {run.values[key]['path']}: {run.values[key]['summary']}")
    screen = run.values.get("candidates")
    if screen:
        print(
            f"candidates ({screen['mode']}): the LLM was asked {screen['asked']:,} of {screen['pairs']:,} pairs, "
            f"{screen['pruned']:,} pruned"
        )
    if run.values.get("listed"):
        print(f"prompts: each listed the {run.values['listed']} variables most related to its pair (--listing)")
    print(f"{'round':>5}{'exps':>6}{'edges':>7}{'prec':>8}{'recall':>8}{'F1':>8}{'SHD':>6}")
    for h in run.history:
        if h["f1"] is None:
            print(f"{h['round']:>5}{h['experiments']:>6}{h['predicted_edges']:>7}")
        else:
            print(
                f"{h['round']:>5}{h['experiments']:>6}{h['predicted_edges']:>7}{h['precision']:>8.3f}"
                f"{h['recall']:>8.3f}{h['f1']:>8.3f}{h['shd']:>6}"
            )
    fusion = run.history[-1].get("fusion")
    if fusion:
        from discolab.core.igda.fusion import describe_weights

        print("\n".join(describe_weights(fusion, run.history[-1]["experiments"])))
    llm = run.values.get("llm")
    if llm and (llm["calls"] or llm["cache_hits"]):
        from discolab.core.llm.base import Usage

        print(f"LLM: {Usage(**llm).describe()}")
    return 0


def _ask_person(question: dict) -> bool:
    print(f"\n{question['question']}", file=sys.stderr)
    print(f"  cause:  {question['cause']}\n  effect: {question['effect']}", file=sys.stderr)
    while True:
        try:
            reply = input("does it directly cause it? [y/n] ").strip().lower()
        except EOFError:
            raise DiscolabError("the run needs an answer but input is closed; resume it later") from None
        if reply in ("y", "yes", "n", "no"):
            return reply.startswith("y")


def cmd_export(args: argparse.Namespace) -> int:
    from discolab.agents.discovery.results import export_run
    from discolab.core.files import atomic_write

    text, summary = export_run(args.run_id, args.format, args.round, args.acyclic)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with atomic_write(args.out, f"the {args.format} file") as temporary:
            temporary.write_text(text, encoding="utf-8")
    dropped = f", {summary['dropped']} dropped to make it acyclic" if args.acyclic else ""
    where = "" if args.out == "-" else f" to {args.out}"
    print(f"run {args.run_id}, round {summary['round']}: {summary['edges']} edges{dropped}{where}", file=sys.stderr)
    return 0


# -- bench --------------------------------------------------------------------------------------
def cmd_bench_llm(args: argparse.Namespace) -> int:
    from discolab.experiments import bench_llm

    return bench_llm.main(args)


# -- wiring -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="discolab", description="Agent-driven interactive causal discovery.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    graphs = commands.add_parser("graphs", help="benchmark graphs and graph files")
    graphs.add_argument("--json", action="store_true", help="print JSON")
    graphs.set_defaults(run=cmd_graphs_list)
    graph_actions = graphs.add_subparsers(dest="action", metavar="ACTION")
    show = graph_actions.add_parser("show", help="variables, descriptions and true edges of a graph")
    show.add_argument("graph", help="benchmark name (optionally NAME-renamed) or a .json/.yaml graph file")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(run=cmd_graphs_show)

    llm = commands.add_parser("llm", help="query an LLM backend")
    llm_actions = llm.add_subparsers(dest="action", metavar="ACTION", required=True)
    ask = llm_actions.add_parser("ask", help="probability that the answer to a yes/no question is yes")
    ask.add_argument("question")
    ask.add_argument("--context", default=None, help="text placed before the question")
    add_backend_arguments(ask)
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.set_defaults(run=cmd_llm_ask)

    predict = commands.add_parser("predict", help="static LLM prediction of a graph (no experiments)")
    predict.add_argument("--graph", default="asia", help="benchmark name or graph file (default asia)")
    predict.add_argument(
        "--method",
        choices=("prior", "pairwise", "bfs"),
        default="prior",
        help="prior: P(u -> v) for every pair (default); pairwise: one 3-way question per pair "
        "(Kiciman et al.); bfs: roots then one query per variable (Jiralerspong et al.)",
    )
    predict.add_argument("--threshold", type=probability, default=0.5, help="keep edges with P(u -> v) above this")
    predict.add_argument("--seed", type=int, default=0, help="seed of the variable order in the prompt")
    predict.add_argument("--top", type=positive_int, default=10, help="edges to list, by belief")
    add_calibration_argument(predict)
    add_backend_arguments(predict)
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.set_defaults(run=cmd_predict)

    discover = commands.add_parser("discover", help="interactive graph discovery (IGDA loop)")
    discover.add_argument("--graph", default="asia", help="benchmark name or graph file (default asia)")
    discover.add_argument(
        "--prior",
        default="llm+pc",
        help="llm, chared (an ensemble, see --ensemble), pc, ges (on observational data), bootstrap (PC's "
        "edge frequency over subsamples), simulated:Q (F1 = Q), or several joined by + for a fused prior "
        "whose weights are learned from the answers (default llm+pc)",
    )
    discover.add_argument(
        "--fusion-precision",
        type=positive_float,
        default=1.0,
        help="a fused prior: how strongly its weights are held at their start of 1 (default 1)",
    )
    discover.add_argument(
        "--ensemble", nargs="+", default=["smollm2", "gemma3-270m"], help="prior chared: the local models"
    )
    discover.add_argument(
        "--ensemble-weights",
        type=float,
        nargs="+",
        default=None,
        help="prior chared: one weight per model (default equal)",
    )
    discover.add_argument(
        "--samples", type=positive_int, default=2000, help="rows sampled from a benchmark for pc / ges / bootstrap"
    )
    discover.add_argument(
        "--data", default=None, help="your observational data (CSV or Parquet) for pc / ges / bootstrap"
    )
    discover.add_argument("--ignore-columns", nargs="+", default=[], help="columns of --data that are no variable")
    discover.add_argument(
        "--require", nargs=2, action="append", default=[], metavar=("CAUSE", "EFFECT"), help="an edge known present"
    )
    discover.add_argument(
        "--forbid", nargs=2, action="append", default=[], metavar=("CAUSE", "EFFECT"), help="an edge known absent"
    )
    discover.add_argument(
        "--column-type",
        action="append",
        default=[],
        metavar="NAME=discrete|continuous",
        help="override a column's detected type (repeatable)",
    )
    discover.add_argument(
        "--strategy",
        default="uncertainty",
        help="uncertainty (default), random, confident, bootstrap (PC bootstrap frequencies), lookahead "
        "(largest expected entropy reduction after the answer and the update that follows)",
    )
    discover.add_argument(
        "--explore",
        type=share,
        default=0.0,
        help="the share of each round's experiments picked at random instead (default 0)",
    )
    discover.add_argument(
        "--update", default="llm", help="llm (default), structural, none, shift:D (a control for llm)"
    )
    discover.add_argument(
        "--experimenter",
        default="oracle",
        help="oracle (default), noisy:EPS, interventional[:N] (simulated on a benchmark), data:FILE (your "
        "interventional data), human",
    )
    discover.add_argument("--rounds", type=int, default=4, help="rounds R (default 4)")
    discover.add_argument("--per-round", type=positive_int, default=2, help="experiments per round I (default 2)")
    discover.add_argument(
        "--threshold", type=probability, default=0.5, help="belief above which an untested edge is kept"
    )
    discover.add_argument("--seed", type=int, default=0)
    discover.add_argument(
        "--candidates",
        default="auto",
        choices=("all", "data", "llm", "data+llm", "auto"),
        help="the pairs the LLM prior asks about: all, data (PC's loose skeleton), llm (each variable's "
        "listed causes), data+llm, auto (all below 30 variables, else data when the run has data; default)",
    )
    discover.add_argument(
        "--listing",
        default="auto",
        help="variables an LLM prompt lists: all, a number N (the N most related to the pair), auto (all "
        "while the longest prompt fits the model's context, else as many as fit; default)",
    )
    discover.add_argument(
        "--context-tokens",
        type=positive_int,
        default=None,
        help="the model's context length in tokens, for --listing auto (a local model knows its own)",
    )
    add_calibration_argument(discover)
    discover.add_argument("--run-id", default=None, help="id for the new run (default: a random one)")
    add_backend_arguments(discover)
    discover.add_argument("--json", action="store_true", help="print the run as JSON")
    discover.add_argument(
        "--plot", default=None, help="also draw the final graph and the F1 curve to FILE.png (.pdf, .svg)"
    )
    discover.set_defaults(run=cmd_discover)

    resume = commands.add_parser("resume", help="continue an interrupted or paused discovery run")
    resume.add_argument("run_id")
    resume.add_argument("--json", action="store_true", help="print the run as JSON")
    resume.add_argument(
        "--plot", default=None, help="also draw the final graph and the F1 curve to FILE.png (.pdf, .svg)"
    )
    resume.set_defaults(run=cmd_resume)

    from discolab.core.graphs.export import FORMATS

    export_graph = commands.add_parser("export", help="a run's graph as JSON (with provenance), DOT, GraphML, ...")
    export_graph.add_argument("run_id")
    export_graph.add_argument("--format", choices=FORMATS, default="json", help="output format (default json)")
    export_graph.add_argument("--round", type=int, default=None, help="the graph after this round (default: last)")
    export_graph.add_argument("--acyclic", action="store_true", help="drop the weakest untested edges closing cycles")
    export_graph.add_argument("--out", required=True, help="output file, or - for standard output")
    export_graph.set_defaults(run=cmd_export)

    chared = commands.add_parser("chared", help="character-wise ensemble decoding (CharED) across tokenizers")
    chared.add_argument("prompt")
    chared.add_argument("--models", nargs="+", default=["smollm2", "gemma3-270m"], help="local models to ensemble")
    chared.add_argument("--alpha", type=float, default=0.5, help="weight of the first of two models (default 0.5)")
    chared.add_argument("--weights", type=float, nargs="+", default=None, help="one weight per model (any number)")
    chared.add_argument("--max-chars", type=int, default=80)
    chared.add_argument("--seed", type=int, default=None, help="sample with this seed (default: greedy)")
    chared.add_argument("--json", action="store_true", help="print JSON")
    chared.set_defaults(run=cmd_chared)

    ui = commands.add_parser("ui", help="start the Streamlit dashboard (localhost only by default)")
    ui.add_argument("--port", type=positive_int, default=8501)
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    ui.set_defaults(run=cmd_ui)

    agent = commands.add_parser("agent", help="ask the research agent (tool-calling LLM over the workbench)")
    agent.add_argument("question")
    agent.add_argument("--backend", choices=("openai", "local"), default="openai")
    agent.add_argument("--model", default=None, help="model name on the server (default gpt-4o-mini)")
    agent.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible server URL, one only: the agent's chat client does not spread requests "
        "(default api.openai.com)",
    )
    agent.add_argument("--max-steps", type=int, default=8, help="LLM turns before it must answer")
    agent.add_argument("--json", action="store_true", help="print JSON")
    agent.set_defaults(run=cmd_agent)

    runs = commands.add_parser("runs", help="the runs database: every experiment's per-seed results")
    runs_actions = runs.add_subparsers(dest="action", metavar="ACTION", required=True)
    runs_list = runs_actions.add_parser("list", help="experiments with their cells done / failed and rows")
    runs_list.add_argument("--db", default=None, help="database URL (default: DATA_HOME/runs.sqlite)")
    runs_list.add_argument("--json", action="store_true", help="print JSON")
    runs_list.set_defaults(run=cmd_runs_list)
    export = runs_actions.add_parser("export", help="write an experiment's rows to a CSV file")
    export.add_argument("experiment")
    export.add_argument("--csv", required=True, help="output file")
    export.add_argument("--db", default=None, help="database URL (default: DATA_HOME/runs.sqlite)")
    export.set_defaults(run=cmd_runs_export)
    delete = runs_actions.add_parser("delete", help="remove an experiment's results, so that its sweep runs afresh")
    delete.add_argument("experiment")
    delete.add_argument("--db", default=None, help="database URL (default: DATA_HOME/runs.sqlite)")
    delete.set_defaults(run=cmd_runs_delete)
    imports = runs_actions.add_parser(
        "import", help="copy the finished cells of another runs database (e.g. from another machine) into this one"
    )
    imports.add_argument("source", help="the other database: a runs.sqlite file or a database URL")
    imports.add_argument(
        "--experiment", action="append", default=[], help="only this experiment (repeatable; default: all)"
    )
    imports.add_argument("--db", default=None, help="database URL (default: DATA_HOME/runs.sqlite)")
    imports.set_defaults(run=cmd_runs_import)

    scaling = commands.add_parser("scaling", help="distributional analysis of multi-seed results")
    scaling_actions = scaling.add_subparsers(dest="action", metavar="ACTION", required=True)
    analyze = scaling_actions.add_parser(
        "analyze", help="per setting: bimodality across seeds, P(success), mean of successful runs; sharpness"
    )
    analyze.add_argument("--experiment", default=None, help="an experiment in the runs database")
    analyze.add_argument("--csv", default=None, help="or a CSV file with one row per run")
    analyze.add_argument("--scale", required=True, help="the setting / scale column")
    analyze.add_argument("--metric", required=True, help="the metric column")
    analyze.add_argument("--seed-column", default="seed", help="the seed column (default seed)")
    analyze.add_argument("--threshold", type=_finite, default=None, help="success = metric >= T (default: mixture)")
    analyze.add_argument("--success", choices=("threshold", "mixture"), default=None, help="success rule")
    analyze.add_argument("--where", action="append", default=[], help="COLUMN=VALUE filter (repeatable)")
    analyze.add_argument("--step", default="last", help="trajectory step: last (default), a number, or all")
    analyze.add_argument("--plot", default=None, help="PNG path (default DATA_HOME/results/scaling_NAME_METRIC.png)")
    analyze.add_argument("--db", default=None, help="runs database URL (default: DATA_HOME/runs.sqlite)")
    analyze.add_argument("--json", action="store_true", help="print JSON")
    analyze.set_defaults(run=cmd_scaling_analyze)

    interp = commands.add_parser("interp", help="continuous LM interpolation: LoRA attribute anchors and sliders")
    interp_actions = interp.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = interp_actions.add_parser("train", help="build the pole corpora and train the anchors (cached)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--attributes", nargs="+", default=["sentiment", "formality", "simplicity"])
    train.add_argument("--quick", action="store_true", help="6 topics x 2 texts, 3 epochs (a minute or two)")
    train.set_defaults(run=cmd_interp_train)
    steer_cmd = interp_actions.add_parser("generate", help="generate at given slider positions")
    steer_cmd.add_argument("--prompt", required=True)
    steer_cmd.add_argument("--alpha", action="append", help="ATTRIBUTE=A (repeatable; default 0.5 each)")
    steer_cmd.add_argument("--lambda", dest="weight", action="append", help="ATTRIBUTE=W (repeatable; default equal)")
    steer_cmd.add_argument("--seed", type=int, default=None, help="sample with this seed (default: greedy)")
    steer_cmd.add_argument("--anchors-seed", type=int, default=0, help="which trained anchors (default 0)")
    steer_cmd.add_argument("--max-tokens", type=int, default=60)
    steer_cmd.add_argument("--json", action="store_true")
    steer_cmd.set_defaults(run=cmd_interp_generate)

    s2t2 = commands.add_parser("s2t2", help="sparse Sinkhorn token translation of the embedded model to proteins")
    s2t2_actions = s2t2.add_subparsers(dest="action", metavar="ACTION", required=True)
    from discolab.core.s2t2.conditions import CONDITIONS
    from discolab.experiments import s2t2_eval

    s2t2_train = s2t2_actions.add_parser("train", help="train and score one condition (S2T2 by default)")
    s2t2_train.add_argument("--condition", choices=CONDITIONS, default="s2t2")
    s2t2_train.add_argument("--seed", type=int, default=0)
    s2t2_eval.add_config_arguments(s2t2_train)
    s2t2_train.add_argument("--json", action="store_true")
    s2t2_train.set_defaults(run=cmd_s2t2_train)
    s2t2_compare = s2t2_actions.add_parser("eval", help="the five-way comparison over seeds (runs DB), and its report")
    s2t2_eval.add_arguments(s2t2_compare)
    s2t2_compare.set_defaults(run=s2t2_eval.run)

    moe = commands.add_parser("moe", help="mixture of experts vs dense: memorization and reasoning at matched sizes")
    moe_actions = moe.add_subparsers(dest="action", metavar="ACTION", required=True)
    from discolab.experiments import moe_eval

    moe_train = moe_actions.add_parser("train", help="train and evaluate one dense or MoE model")
    moe_eval.add_train_arguments(moe_train)
    moe_train.set_defaults(run=moe_eval.train_command)
    moe_sweep = moe_actions.add_parser("sweep", help="the experts/width sweep over seeds (runs DB), and its report")
    moe_eval.add_arguments(moe_sweep)
    moe_sweep.set_defaults(run=moe_eval.sweep_command)

    ddeq = commands.add_parser("ddeq", help="distributional deep equilibrium models on point clouds")
    ddeq_actions = ddeq.add_subparsers(dest="action", metavar="ACTION", required=True)
    from discolab.experiments import ddeq_eval

    ddeq_train = ddeq_actions.add_parser("train", help="train and evaluate one classifier (DDEQ by default)")
    ddeq_eval.add_train_arguments(ddeq_train)
    ddeq_train.set_defaults(run=ddeq_eval.train_command)
    ddeq_sweep = ddeq_actions.add_parser("eval", help="DDEQ vs PointNet vs unrolled, and completion, over seeds")
    ddeq_eval.add_arguments(ddeq_sweep)
    ddeq_sweep.set_defaults(run=ddeq_eval.eval_command)

    tree = commands.add_parser("tree", help="hierarchical vs linear generalization: question formation from a grammar")
    tree_actions = tree.add_subparsers(dest="action", metavar="ACTION", required=True)
    from discolab.experiments import tree_eval

    tree_train = tree_actions.add_parser("train", help="train and score one model (OOD hierarchical / linear fraction)")
    tree_eval.add_train_arguments(tree_train)
    tree_train.set_defaults(run=tree_eval.train_command)
    tree_sweep = tree_actions.add_parser("sweep", help="complexity x diversity over seeds (runs DB), and its report")
    tree_eval.add_arguments(tree_sweep)
    tree_sweep.set_defaults(run=tree_eval.sweep_command)

    distill = commands.add_parser("distill", help="dataset distillation: soft-label baseline and D3")
    distill_actions = distill.add_subparsers(dest="action", metavar="ACTION", required=True)
    from discolab.experiments import distill_eval

    distill_soft = distill_actions.add_parser("softlabel", help="random real images + expert soft labels: one study")
    distill_eval.add_softlabel_arguments(distill_soft)
    distill_soft.set_defaults(run=distill_eval.softlabel_command)
    distill_d3 = distill_actions.add_parser("d3", help="D3 latents + decoder (or pixels / real) at a storage budget")
    distill_eval.add_d3_arguments(distill_d3)
    distill_d3.set_defaults(run=distill_eval.d3_command)
    distill_sweep = distill_actions.add_parser("sweep", help="both studies over seeds (runs DB), and their report")
    distill_eval.add_arguments(distill_sweep)
    distill_sweep.set_defaults(run=distill_eval.sweep_command)

    bench = commands.add_parser("bench", help="benchmarks (speed, not correctness)")
    bench_actions = bench.add_subparsers(dest="action", metavar="ACTION", required=True)
    bench_llm = bench_actions.add_parser("llm", help="pair-scoring throughput: naive vs batched vs prefix cache")
    from discolab.experiments.bench_llm import add_arguments

    add_arguments(bench_llm)
    bench_llm.set_defaults(run=cmd_bench_llm)
    bench_chared = bench_actions.add_parser("chared", help="CharED chars/s vs each model's tokens/s alone")
    from discolab.experiments import bench_chared as bench_chared_module

    bench_chared_module.add_arguments(bench_chared)
    bench_chared.set_defaults(run=bench_chared_module.main)
    bench_checkpoints = bench_actions.add_parser(
        "checkpoints", help="bytes a discovery round adds to the checkpoint store, against SqliteSaver"
    )
    from discolab.experiments import bench_checkpoints as bench_checkpoints_module

    bench_checkpoints_module.add_arguments(bench_checkpoints)
    bench_checkpoints.set_defaults(run=bench_checkpoints_module.main)
    bench_scale = bench_actions.add_parser(
        "scale", help="a discovery run's costs against the number of variables, and their growth exponents"
    )
    from discolab.experiments import bench_scale as bench_scale_module

    bench_scale_module.add_arguments(bench_scale)
    bench_scale.set_defaults(run=bench_scale_module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    debug = args.debug or os.environ.get("DISCOLAB_DEBUG", "") not in ("", "0")
    if getattr(args, "base_url", None):  # typed by the person running us: the environment's key may go there (each URL)
        from discolab.core.llm.credentials import trust_base_url

        trust_base_url(args.base_url)
    try:
        return run(args)
    except KeyboardInterrupt as err:  # a sweep says what it kept
        print(f"discolab: interrupted: {one_line(err)}" if str(err) else "discolab: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        code, message = describe_failure(err)
        print(f"discolab: error: {one_line(message)}", file=sys.stderr)
        return code


def describe_failure(err: Exception) -> tuple[int, str]:
    """The exit status and one-line message for an error that reached the top of the CLI: 2 for
    input and environment (ours, a full disk, a directory that is not writable, a missing
    file), 1 for a bug, with the way to see its traceback."""
    if isinstance(err, DiscolabError):
        return 2, str(err)
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return 2, f"no space left on the device{_where(err)}: free some space and run the command again"
    if isinstance(err, OSError) and err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return 2, f"not allowed to write{_where(err)}: {err.strerror} (is the data directory writable?)"
    if isinstance(err, OSError) and err.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
        return 2, f"{err.strerror}{_where(err)}"
    if isinstance(err, sqlite3.OperationalError) and "full" in str(err):
        return 2, f"no space left for a database ({err}): free some space and run the command again"
    return 1, (
        f"unexpected {type(err).__name__}: {err} (a bug: rerun with --debug or DISCOLAB_DEBUG=1 for the traceback, "
        "and please report it)"
    )


def _where(err: OSError) -> str:
    return f" ({err.filename})" if err.filename else ""


if __name__ == "__main__":
    raise SystemExit(main())
