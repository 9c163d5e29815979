"""Benchmark: how a discovery run's costs grow with the number of variables n.

For each n, a seeded random DAG (``random_dag`` of ``bench_checkpoints``: about 1.2 parents a
variable, generated names and descriptions) goes through the real discovery graph
(``build_graph().compile`` with ``RunCheckpointer`` on a temporary SQLite file): the prior, then
R rounds of k experiments, oracle experimenter. Two runs per n:

- **timing**: every node function that ``graph.py`` registers is wrapped in a timer; the run uses
  ``durability="sync"`` and each node starts only once the checkpointer's writes of the step before
  are done, so a node's seconds are its own, not the checkpointer's. Checkpoint writes
  (``put``, ``put_writes``, with their serialisation) are timed apart. A node's seconds exclude
  the time spent inside the LLM backend. The store's bytes (``store_bytes``) are read between
  phases, outside every timer. With ``--repeat K`` the timing run is made K times and each time
  is the least of the K (bytes and counts are the same in every run: it is seeded).
- **memory**: the same run again under ``tracemalloc``: the peak of Python allocations (numpy's
  included) during the run, beyond what was allocated before it. Not RSS: the tokenizer's and
  SQLite's own native memory are not in it.

Priors: ``simulated:Q`` (structural update, no LLM) or ``llm`` (LLM prior and LLM update). The
LLM is then a counting stand-in for the backend: it answers every yes/no question at once (P(yes)
is a hash of the prompt, uniform in (0.02, 0.98)) and counts the questions and their prompt
tokens under the embedded model's tokenizer (SmolLM2-135M-Instruct, chat template applied as
``LocalBackend.encode`` does). A call with more prompts than ``--token-sample`` is counted
exactly on a seeded sample of its prompts and scaled to all of them (the output says where).
The prompts themselves are built by the project's code (``ask_edges``, ``edge_question``), so
their number and length are real. A size whose LLM prior would hold more prompt text than half
this machine's memory (``ask_edges`` builds every prompt before asking) is skipped, and says so.

Each metric's growth exponent is the least-squares slope of log(metric) on log(n) over the sizes
measured; "top" is the slope between the two largest sizes, closer to the asymptote.

Run: ``discolab bench scale --variables 10 37 100 300 1000 --plot scale.png`` (or ``python -m
discolab.experiments.bench_scale``); ``--prior llm`` for the LLM's calls and tokens.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from discolab.agents.discovery import graph as graph_module
from discolab.agents.discovery import nodes
from discolab.agents.discovery.checkpoints import RunCheckpointer
from discolab.agents.discovery.configuration import DiscoverySettings
from discolab.core.errors import DiscolabError
from discolab.core.graphs import GraphSpec
from discolab.core.igda.prompts import edge_question, listing_size
from discolab.core.llm.base import TOKEN_PROBABILITY, Prompt, Usage, YesNo
from discolab.experiments.bench_checkpoints import random_dag, store_bytes

NODES = ("elicit_prior", "select", "experiment", "update", "score")
ROUND_NODES = NODES[1:]
MAX_VARIABLES = 5000  # as random:N of bench checkpoints
# The columns whose growth is fitted, in the order printed.
METRICS = (
    "elicit_prior_s",
    "select_s",
    "experiment_s",
    "update_s",
    "score_s",
    "round_s",
    "checkpoint_s_per_round",
    "round_wall_s",
    "prior_bytes",
    "bytes_per_round",
    "peak_bytes",
    "prior_llm_calls",
    "prior_llm_tokens",
    "update_llm_calls",
    "update_llm_tokens",
)


# -- the counting LLM ------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def smollm2_tokenizer():
    """The embedded model's tokenizer alone, read from its GGUF file (the model is not loaded)."""
    from discolab.core.llm.models import DEFAULT_MODEL, _quiet_transformers, resolve_model
    from transformers import AutoTokenizer

    source = resolve_model(DEFAULT_MODEL)
    with _quiet_transformers():
        return AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file)


class CountingBackend:
    """An LLM backend that answers at once and counts questions and prompt tokens.

    P(yes) is a hash of the prompt's text, uniform in (0.02, 0.98): the same question gets the same
    answer, and a question asked again with experiment results in its prompt gets a new one. Tokens
    are counted as :meth:`LocalBackend.encode` would (chat template, the model's tokenizer); a call
    of more than ``sample`` prompts is counted on a seeded sample of ``sample`` of them and scaled
    (``estimated`` counts such calls). ``tokenizer=None`` counts no tokens (the memory run)."""

    kind = "counting"
    model = "smollm2 tokenizer"

    def __init__(self, tokenizer=None, sample: int = 200, seed: int = 0):
        if sample < 1:
            raise DiscolabError(f"token sample {sample}: count at least 1 prompt")
        self.tokenizer = tokenizer
        self.sample = sample
        self.seed = seed
        self.usage = Usage()  # replaced, never changed in place: the nodes subtract a copy taken before
        self.estimated = 0  # calls whose tokens were estimated from a sample

    def identity(self) -> dict:
        return {"kind": self.kind, "model": self.model}

    def score_yes_no(self, prompts: Sequence[Prompt], progress: bool = False) -> list[YesNo]:
        start = time.perf_counter()
        answers = [YesNo(0.02 + 0.96 * _hash(p) / 2**32, TOKEN_PROBABILITY) for p in prompts]
        tokens = self.prompt_tokens(prompts) if self.tokenizer is not None else 0
        seconds = time.perf_counter() - start
        self.usage = self.usage + Usage(calls=len(prompts), prompt_tokens=tokens, seconds=seconds)
        return answers

    def chat(self, messages: Prompt, *, max_tokens: int = 256, temperature: float = 0.0, seed: int = 0) -> str:
        raise DiscolabError("the counting backend answers yes/no questions only")

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` under the tokenizer, as ``LocalBackend.count_tokens`` (None without one),
        so that bounded prompts are sized as the embedded model's would be."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if self.tokenizer is not None else None

    def prompt_tokens(self, prompts: Sequence[Prompt]) -> int:
        if not prompts:
            return 0
        if len(prompts) <= self.sample:
            return sum(map(self.encoded_length, prompts))
        self.estimated += 1
        rng = random.Random(f"{self.seed}:{len(prompts)}")
        sample = rng.sample(range(len(prompts)), self.sample)
        return round(sum(self.encoded_length(prompts[i]) for i in sample) * len(prompts) / self.sample)

    def encoded_length(self, prompt: Prompt) -> int:
        from discolab.core.llm.local import render_prompt

        text = render_prompt(self.tokenizer, prompt)
        return len(self.tokenizer(text, add_special_tokens=not self.tokenizer.chat_template)["input_ids"])


def _hash(prompt: Prompt) -> int:
    return zlib.crc32("\n".join(m["content"] for m in prompt).encode())


# -- instrumenting one run -------------------------------------------------------------------
@dataclass
class Phase:
    """What one phase of a run cost: the prior (phase 0) or one round."""

    node_seconds: dict[str, float] = field(default_factory=dict)  # without LLM time
    llm: Usage = field(default_factory=Usage)
    llm_estimated: bool = False  # some token count here is a sample's, scaled
    checkpoint_seconds: float = 0.0
    wall_seconds: float = 0.0  # the whole phase, checkpoint writes and LangGraph included
    bytes: int = 0


class Probe:
    """Times the nodes and the checkpointer of one run and reads the store's bytes between phases.

    A phase ends when the next ``select`` starts (or the run ends); every node first waits until
    no checkpoint write is in flight, so that a node never shares the CPU with the checkpointer."""

    def __init__(self, path: Path, backend: CountingBackend | None):
        self.path = path
        self.backend = backend
        self.phases = [Phase()]
        self._busy = 0
        self._idle = threading.Condition()
        self._marks = [0]  # store bytes at the end of each phase
        self._phase_start = time.perf_counter()

    def start(self) -> None:
        self._phase_start = time.perf_counter()

    @contextmanager
    def checkpointing(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
            phase = self.phases[-1]
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._idle:
                phase.checkpoint_seconds += time.perf_counter() - start
                self._busy -= 1
                self._idle.notify_all()

    def settle(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._busy == 0)

    def end_phase(self) -> None:
        self.settle()
        self.phases[-1].wall_seconds = time.perf_counter() - self._phase_start
        self._marks.append(store_bytes(self.path))
        self.phases[-1].bytes = self._marks[-1] - self._marks[-2]

    def wrap(self, name: str, function):
        """``function`` (a node), timed into the current phase, its LLM time taken out."""

        @functools.wraps(function)
        def node(state):
            if name == "select":
                self.end_phase()
                self.phases.append(Phase())
                self._phase_start = time.perf_counter()
            else:
                self.settle()
            before, estimated = self._usage(), self.backend.estimated if self.backend else 0
            start = time.perf_counter()
            try:
                return function(state)
            finally:
                took = time.perf_counter() - start
                spent = self._usage() - before
                phase = self.phases[-1]
                phase.node_seconds[name] = phase.node_seconds.get(name, 0.0) + took - spent.seconds
                phase.llm += spent
                phase.llm_estimated |= bool(self.backend and self.backend.estimated > estimated)

        return node

    def _usage(self) -> Usage:
        return self.backend.usage if self.backend else Usage()


class TimedCheckpointer(RunCheckpointer):
    """:class:`RunCheckpointer` whose writes and reads are timed by a :class:`Probe`."""

    def __init__(self, connection: sqlite3.Connection, probe: Probe) -> None:
        super().__init__(connection)
        self.probe = probe

    def put(self, config, checkpoint, metadata, new_versions):
        with self.probe.checkpointing():
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes, task_id, task_path=""):
        with self.probe.checkpointing():
            return super().put_writes(config, writes, task_id, task_path)

    def get_tuple(self, config):
        with self.probe.checkpointing():
            return super().get_tuple(config)


@contextmanager
def patched(module, values: dict) -> Iterator[None]:
    """``module``'s attributes set to ``values`` for the duration, then restored."""
    saved = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def run_once(
    spec: GraphSpec, settings: DiscoverySettings, path: Path, backend: CountingBackend | None, probe: Probe | None
) -> dict:
    """One discovery run into a fresh store at ``path``; its final state. With a probe, timed."""
    connection = sqlite3.connect(path, check_same_thread=False)
    saver = TimedCheckpointer(connection, probe) if probe else RunCheckpointer(connection)
    timers = {name: probe.wrap(name, getattr(graph_module, name)) for name in NODES} if probe else {}
    llm = {"llm_backend": lambda *args, **kwargs: backend} if backend else {}
    try:
        with patched(graph_module, timers), patched(nodes, llm):
            compiled = graph_module.build_graph().compile(checkpointer=saver)
            if probe:
                probe.start()
            state = compiled.invoke(
                {"settings": settings.as_dict(), "graph": nodes.stored_graph(spec)},
                {"configurable": {"thread_id": "bench"}},
                durability="sync",
            )
            if probe:
                probe.end_phase()
    finally:
        connection.close()
    return state


# -- one size ----------------------------------------------------------------------------------
def prompt_memory(spec: GraphSpec, seed: int) -> int:
    """Bytes the LLM prior's prompts take at once: one prompt's text, a little more per object, per pair."""
    names = spec.names
    one = edge_question(spec, names[0], names[1], seed=seed)
    return (len(spec.variables) * (len(spec.variables) - 1) + 1) * (sum(len(m["content"]) for m in one) + 600)


def memory_limit() -> int:
    """Half of this machine's physical memory."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def measure(
    n: int,
    prior: str,
    rounds: int,
    per_round: int,
    seed: int,
    token_sample: int,
    memory: bool = True,
    log=None,
    repeat: int = 1,
    listing: str = "all",
    context_tokens: int | None = None,
) -> dict:
    """One row: the costs of the prior and of a round at ``n`` variables."""
    log = log or (lambda text: None)
    spec = random_dag(n, seed)
    llm = prior == "llm"
    settings = DiscoverySettings(
        graph=spec.name,
        prior=prior,
        update="llm" if llm else "structural",
        rounds=rounds,
        per_round=per_round,
        seed=seed,
        candidates="all",  # every pair asked: the cost of the whole prior
        listing=listing,
        context_tokens=context_tokens,
    )
    row = {"variables": n, "pairs": n * (n - 1), "true_edges": len(spec.edges)}
    whole = listing_size(spec, listing, context_tokens) is None
    if llm and whole and prompt_memory(spec, seed) > memory_limit():
        reason = (
            f"skipped: listing every variable, the LLM prior's {n * (n - 1) + 1:,} prompts are "
            f"~{prompt_memory(spec, seed) / 1e9:.0f} GB of text, over half this machine's "
            f"{2 * memory_limit() / 1e9:.0f} GB, to count (bounded prompts: --listing auto --context-tokens N)"
        )
        log(f"n={n}: {reason}")
        return {**row, "skipped": reason}
    tokenizer = smollm2_tokenizer() if llm else None
    plural = "s" if rounds != 1 else ""
    with tempfile.TemporaryDirectory() as folder:
        timings = []
        for k in range(repeat):
            label = f"timing run {k + 1}/{repeat}" if repeat > 1 else "timing run"
            log(f"n={n}: {label} (prior + {rounds} round{plural} of {per_round}) ...")
            backend = CountingBackend(tokenizer, token_sample, seed) if llm else None
            probe = Probe(Path(folder) / f"timed-{k}.sqlite", backend)
            start = time.perf_counter()
            state = run_once(spec, settings, probe.path, probe.backend, probe)
            timings.append(summarise(probe.phases, state))
            log(f"n={n}: {label} done in {time.perf_counter() - start:.1f} s")
        peak = None
        if memory:
            log(f"n={n}: memory run (tracemalloc) ...")
            start = time.perf_counter()
            quiet = CountingBackend(None, token_sample, seed) if llm else None
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                run_once(spec, settings, Path(folder) / "memory.sqlite", quiet, None)
                peak = tracemalloc.get_traced_memory()[1] - before
            finally:
                tracemalloc.stop()
            log(f"n={n}: memory run done in {time.perf_counter() - start:.1f} s, peak {peak / 1e6:.1f} MB")
    return {**row, **fastest(timings), "repeats": repeat, "peak_bytes": peak}


def fastest(timings: list[dict]) -> dict:
    """The first run's figures, each time (``*_s``) the least over the runs (the others are the same in
    every run: the run is seeded)."""
    return {**timings[0], **{key: min(t[key] for t in timings) for key in timings[0] if key.endswith("_s")}}


def summarise(phases: list[Phase], state: dict) -> dict:
    """The row's figures from the phases of the timing run: the prior's, and the mean of the rounds'."""
    prior, done = phases[0], phases[1:]
    if not done:
        raise DiscolabError("the run ended before its first round")

    def mean(values) -> float:
        values = list(values)
        return sum(values) / len(values)

    nodes_per_round = {f"{name}_s": mean(p.node_seconds.get(name, 0.0) for p in done) for name in ROUND_NODES}
    return {
        "rounds_done": len(done),
        "experiments": len(state.get("results", [])),
        "tested": [[*r["edge"], r["round"]] for r in state.get("results", [])],  # [u, v, round]
        "elicit_prior_s": prior.node_seconds.get("elicit_prior", 0.0),
        **nodes_per_round,
        "round_s": sum(nodes_per_round.values()),
        "checkpoint_s_per_round": mean(p.checkpoint_seconds for p in done),
        "round_wall_s": mean(p.wall_seconds - p.llm.seconds for p in done),
        "prior_checkpoint_s": prior.checkpoint_seconds,
        "prior_wall_s": prior.wall_seconds - prior.llm.seconds,
        "prior_bytes": prior.bytes,
        "bytes_per_round": mean(p.bytes for p in done),
        "prior_llm_calls": prior.llm.calls,
        "prior_llm_tokens": prior.llm.prompt_tokens,
        "update_llm_calls": mean(p.llm.calls for p in done),
        "update_llm_tokens": mean(p.llm.prompt_tokens for p in done),
        "llm_tokens_estimated": any(p.llm_estimated for p in phases),
        "per_round": [
            {
                "round": number,
                **{f"{name}_s": p.node_seconds.get(name, 0.0) for name in ROUND_NODES},
                "checkpoint_s": p.checkpoint_seconds,
                "wall_s": p.wall_seconds - p.llm.seconds,
                "bytes": p.bytes,
                "llm_calls": p.llm.calls,
                "llm_tokens": p.llm.prompt_tokens,
            }
            for number, p in enumerate(done, start=1)
        ],
    }


# -- growth ------------------------------------------------------------------------------------
def growth_exponents(rows: list[dict], metrics: Sequence[str] = METRICS) -> dict[str, dict[str, float | None]]:
    """Per metric: the least-squares slope of log(metric) on log(n) over the measured sizes
    (``all``), and the slope between the two largest (``top``); None where fewer than two sizes
    have a positive value (a metric that is 0, as the LLM's with a simulated prior, has none)."""
    fits = {}
    for metric in metrics:
        points = sorted((r["variables"], r[metric]) for r in rows if "skipped" not in r and r.get(metric) is not None)
        if len(points) < 2 or any(value <= 0 for _, value in points):
            fits[metric] = {"all": None, "top": None}
            continue
        x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
        slope = float(np.polyfit(x, y, 1)[0])
        top = float((y[-1] - y[-2]) / (x[-1] - x[-2]))
        fits[metric] = {"all": slope, "top": top}
    return fits


def run(
    variables: Sequence[int],
    prior: str = "simulated:0.7",
    rounds: int = 2,
    per_round: int = 5,
    seed: int = 0,
    token_sample: int = 200,
    memory: bool = True,
    progress: bool = True,
    repeat: int = 1,
    listing: str = "all",
    context_tokens: int | None = None,
) -> dict:
    """Every size's row and the growth exponents."""
    check(variables, prior, rounds, per_round, seed, token_sample, repeat)

    def log(text: str) -> None:
        if progress:
            print(f"bench scale: {text}", file=sys.stderr, flush=True)

    rows = [
        measure(n, prior, rounds, per_round, seed, token_sample, memory, log, repeat, listing, context_tokens)
        for n in sorted(set(variables))
    ]
    return {
        "prior": prior,
        "update": "llm" if prior == "llm" else "structural",
        "experimenter": "oracle",
        "rounds": rounds,
        "per_round": per_round,
        "seed": seed,
        "token_sample": token_sample if prior == "llm" else None,
        "repeat": repeat,
        "listing": listing,
        "context_tokens": context_tokens,
        "rows": rows,
        "exponents": growth_exponents(rows),
    }


def check(
    variables: Sequence[int], prior: str, rounds: int, per_round: int, seed: int, token_sample: int, repeat: int = 1
) -> None:
    problems = []
    if not variables:
        problems.append("give at least one size: --variables N [N ...]")
    bad = [n for n in variables if not 2 <= n <= MAX_VARIABLES]
    if bad:
        problems.append(f"--variables {' '.join(map(str, bad))}: each n must be in 2..{MAX_VARIABLES}")
    if rounds < 1:
        problems.append(f"--rounds {rounds}: at least 1")
    if per_round < 1:
        problems.append(f"--per-round {per_round}: at least 1")
    if not 0 <= seed < 2**32:
        problems.append(f"--seed {seed}: 0 <= seed < 2**32")
    if repeat < 1:
        problems.append(f"--repeat {repeat}: at least 1")
    if token_sample < 1:
        problems.append(f"--token-sample {token_sample}: at least 1")
    if prior != "llm" and not prior.startswith("simulated:"):
        problems.append(f"--prior {prior!r}: simulated:Q (Q an F1 in [0, 1]) or llm")
    elif prior != "llm":
        try:
            DiscoverySettings(prior=prior, update="structural")
        except DiscolabError as err:
            problems.append(str(err))
    if problems:
        raise DiscolabError("bench scale: " + "; ".join(problems))


# -- output ------------------------------------------------------------------------------------
def format_report(result: dict) -> str:
    rows = [r for r in result["rows"] if "skipped" not in r]
    llm = result["prior"] == "llm"
    plural = "s" if result["rounds"] != 1 else ""
    lines = [
        f"prior {result['prior']}, update {result['update']}, oracle experimenter, {result['rounds']} round{plural} "
        f"of {result['per_round']} experiments, seed {result['seed']}"
        + (f"; each time the least of {result['repeat']} runs" if result["repeat"] > 1 else "")
        + (
            f"; prompts list {result.get('listing', 'all')} variables"
            + (f" (context {result['context_tokens']} tokens)" if result.get("context_tokens") else "")
            if llm
            else ""
        ),
        "milliseconds, LLM time excluded; a round's figures are the mean over its rounds; round = the 4 nodes,",
        "wall = the whole round with checkpoint writes and LangGraph's own work",
        "",
        f"{'n':>5}{'prior':>11}{'select':>10}{'experiment':>11}{'update':>10}{'score':>10}{'round':>10}"
        f"{'ckpt/round':>11}{'wall/round':>11}",
    ]
    for r in rows:
        lines.append(
            f"{r['variables']:>5}{_ms(r['elicit_prior_s']):>11}{_ms(r['select_s']):>10}{_ms(r['experiment_s']):>11}"
            f"{_ms(r['update_s']):>10}{_ms(r['score_s']):>10}{_ms(r['round_s']):>10}"
            f"{_ms(r['checkpoint_s_per_round']):>11}{_ms(r['round_wall_s']):>11}"
        )
    header = f"{'n':>5}{'pairs':>10}{'prior bytes':>13}{'bytes/round':>13}{'peak memory':>13}"
    if llm:
        header += f"{'prior calls':>13}{'prior tokens':>16}{'update calls':>14}{'update tokens':>15}"
    lines += ["", header]
    for r in rows:
        line = (
            f"{r['variables']:>5}{r['pairs']:>10,}{_size(r['prior_bytes']):>13}{_size(r['bytes_per_round']):>13}"
            f"{_size(r['peak_bytes']):>13}"
        )
        if llm:
            line += (
                f"{r['prior_llm_calls']:>13,}{r['prior_llm_tokens']:>16,}{r['update_llm_calls']:>14,.0f}"
                f"{r['update_llm_tokens']:>15,.0f}"
            )
        lines.append(line)
    for r in result["rows"]:
        if "skipped" in r:
            lines.append(f"n={r['variables']}: {r['skipped']}")
    if llm and any(r["llm_tokens_estimated"] for r in rows):
        lines.append(
            f"tokens: a call of more than {result['token_sample']} prompts is counted on a seeded sample of "
            f"{result['token_sample']} and scaled"
        )
    lines += ["", "growth exponent (slope of log metric on log n; all sizes / two largest):"]
    for metric, fit in result["exponents"].items():
        if fit["all"] is None:
            continue
        lines.append(f"  {metric:<24}{fit['all']:>6.2f}{fit['top']:>8.2f}")
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f}" if seconds < 10 else f"{seconds * 1e3:,.0f}"


def _size(n: float | None) -> str:
    if n is None:
        return "-"
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def plot(result: dict, path: Path) -> Path:
    """Log-log: per-round node seconds, checkpoint bytes, and LLM calls against n."""
    from matplotlib.figure import Figure

    rows = [r for r in result["rows"] if "skipped" not in r]
    n = [r["variables"] for r in rows]
    fig = Figure(figsize=(15, 4.4))
    times, sizes, calls = fig.subplots(1, 3)
    for name in ROUND_NODES:
        times.plot(n, [max(r[f"{name}_s"], 1e-6) for r in rows], marker="o", label=name)
    times.plot(n, [r["round_s"] for r in rows], marker="s", color="black", label="round (4 nodes)")
    times.plot(n, [r["checkpoint_s_per_round"] for r in rows], marker="^", linestyle="--", label="checkpoint writes")
    times.plot(n, [r["elicit_prior_s"] for r in rows], marker="x", linestyle=":", label="elicit_prior (once)")
    times.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    times.set_title("seconds per round, LLM time excluded")
    sizes.plot(n, [r["prior_bytes"] for r in rows], marker="o", label="checkpoint, prior")
    sizes.plot(n, [r["bytes_per_round"] for r in rows], marker="o", label="checkpoint, per round")
    if all(r["peak_bytes"] for r in rows):
        sizes.plot(n, [r["peak_bytes"] for r in rows], marker="s", linestyle="--", label="peak Python memory")
    sizes.axhline(1e6, color="grey", linewidth=0.8, linestyle=":")
    sizes.set_title("bytes")
    if any(r["prior_llm_calls"] for r in rows):
        calls.plot(n, [r["prior_llm_calls"] for r in rows], marker="o", label="prior calls")
        calls.plot(n, [r["update_llm_calls"] for r in rows], marker="o", label="update calls (a round)")
        calls.plot(n, [r["prior_llm_tokens"] for r in rows], marker="s", linestyle="--", label="prior tokens")
        calls.plot(n, [r["update_llm_tokens"] for r in rows], marker="s", linestyle="--", label="update tokens")
        calls.set_title("LLM questions and prompt tokens")
    else:
        calls.text(0.5, 0.5, f"no LLM calls\n(prior {result['prior']},\n{result['update']} update)", ha="center")
        calls.set_xticks([])
        calls.set_yticks([])
    for ax in (times, sizes, calls):
        if ax.lines:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("variables n")
            ax.legend(fontsize=7)
    fig.suptitle(
        f"discolab bench scale: prior {result['prior']}, {result['update']} update, oracle, "
        f"{result['per_round']} experiments a round (dotted: 1 s and 1 MB targets)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


# -- command line ------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--variables",
        type=int,
        nargs="+",
        default=[10, 37, 100, 300, 1000],
        help="sizes n (default 10 37 100 300 1000)",
    )
    parser.add_argument(
        "--prior", default="simulated:0.7", help="simulated:Q (structural update) or llm (default simulated:0.7)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds R >= 1 (default 2)")
    parser.add_argument("--per-round", type=int, default=5, help="experiments per round >= 1 (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the graphs and the run (default 0)")
    parser.add_argument(
        "--token-sample", type=int, default=200, help="prompts tokenized per LLM call before scaling (default 200)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="timing runs per size; each time is the least over them (default 1)"
    )
    parser.add_argument(
        "--listing", default="all", help="variables an LLM prompt lists: all (default), auto, or a number (--prior llm)"
    )
    parser.add_argument(
        "--context-tokens", type=int, default=None, help="the model's context, for --listing auto (SmolLM2: 8192)"
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run (peak memory)")
    parser.add_argument("--plot", type=Path, default=None, help="write a log-log plot to this PNG")
    parser.add_argument("--json", action="store_true")


def main(args: argparse.Namespace) -> int:
    result = run(
        args.variables,
        args.prior,
        args.rounds,
        args.per_round,
        args.seed,
        args.token_sample,
        memory=not args.no_memory,
        repeat=args.repeat,
        listing=args.listing,
        context_tokens=args.context_tokens,
    )
    if args.plot:
        plot(result, args.plot)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_report(result))
        if args.plot:
            print(f"\nplot: {args.plot}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        raise SystemExit(main(parser.parse_args()))
    except DiscolabError as err:  # as `discolab bench scale` reports it
        print(f"discolab: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
