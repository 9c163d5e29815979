"""Sweeps: one experiment function x a list of settings x a list of seeds, into the runs database.

An experiment function is a module-level callable ``function(config: dict, seed: int)`` that
returns its metrics, either ``{name: value}`` or rows ``{"metric", "value", "step"}`` (a
trajectory). A sweep runs every (config, seed) cell that the runs database does not already hold
as done, so rerunning an interrupted sweep finishes only what is missing; a cell that raises is
recorded as failed with its traceback and the sweep goes on.

Executors: ``local`` (a process pool on this machine, the default) and ``ray`` (the same cells
as Ray tasks on a cluster: ``address="auto"`` or ``"ray://host:10001"``; ``pip install
'discolab[ray]'``). Workers compute; this process writes each finished cell to the database in
one transaction, so a cluster needs no shared file system, and a killed sweep loses at most the
cells in flight.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB, config_hash
from tqdm.auto import tqdm

EXECUTORS = ("local", "ray")


def grid_configs(grid: Mapping[str, Sequence], **fixed: Any) -> list[dict]:
    """Every combination of the grid's values, each with the ``fixed`` entries added."""
    return [{**dict(zip(grid, values)), **fixed} for values in itertools.product(*grid.values())]


@dataclass
class Sweep:
    """An experiment name, its function, the configs to run and the seeds to run each with."""

    name: str
    function: Callable[[dict, int], Any]
    configs: list[dict]
    seeds: list[int]
    # Config keys that are the setting / scale parameters (stored as the row's ``setting``);
    # all keys by default.
    setting_keys: Sequence[str] | None = None

    def cells(self) -> list[tuple[dict, int]]:
        return [(config, seed) for config in self.configs for seed in self.seeds]

    def setting(self, config: Mapping) -> dict:
        keys = self.setting_keys if self.setting_keys is not None else list(config)
        return {k: config[k] for k in keys if k in config}


@dataclass
class SweepReport:
    name: str
    total: int
    skipped: int
    done: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"sweep {self.name}: {self.total} cells, {self.skipped} already done, {self.done} run, "
            f"{self.failed} failed ({self.seconds:.0f} s)"
        )


def run_cell(function: Callable, config: dict, seed: int, threads: int | None = None) -> tuple[str, Any, float]:
    """Run one cell: ("done", metrics, seconds) or ("failed", traceback text, seconds)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    start = time.perf_counter()
    try:
        return "done", function(dict(config), seed), time.perf_counter() - start
    except Exception:  # a failed cell is recorded, never fatal to the sweep
        return "failed", traceback.format_exc(), time.perf_counter() - start


def run_sweep(
    sweep: Sweep,
    db: RunsDB | None = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
) -> SweepReport:
    """Run the cells of ``sweep`` not yet done; record each result or failure as it finishes."""
    if executor not in EXECUTORS:
        raise DiscolabError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    db = db or RunsDB()
    done = db.done_cells(sweep.name)
    cells = sweep.cells()
    todo = [(c, s) for c, s in cells if (config_hash(c), s) not in done]
    report = SweepReport(sweep.name, total=len(cells), skipped=len(cells) - len(todo))
    start = time.perf_counter()
    bar = tqdm(total=len(todo), desc=sweep.name, unit="cell", disable=not progress)
    results = _run_ray(sweep, todo, address) if executor == "ray" else _run_local(sweep, todo, workers)
    for (config, seed), (status, payload, seconds) in results:
        if status == "done":
            db.record(sweep.name, config, seed, payload, setting=sweep.setting(config), seconds=seconds)
            report.done += 1
        else:
            db.record_failure(sweep.name, config, seed, payload, seconds=seconds)
            report.failed += 1
            report.errors.append(f"{config} seed {seed}: {payload.strip().splitlines()[-1]}")
        bar.update()
        bar.set_postfix(failed=report.failed)
    bar.close()
    report.seconds = time.perf_counter() - start
    return report


def _run_local(sweep: Sweep, todo: list, workers: int | None) -> Iterable:
    workers = workers or 1
    if workers == 1:  # in-process: simplest to debug, and shares loaded models between cells
        for config, seed in todo:
            yield (config, seed), run_cell(sweep.function, config, seed)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn, not fork: a forked copy of a process that has started torch threads can hang.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_cell, sweep.function, c, s, threads): (c, s) for c, s in todo}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _run_ray(sweep: Sweep, todo: list, address: str | None) -> Iterable:
    try:
        import ray
    except ImportError:
        raise DiscolabError("the ray executor needs Ray: pip install 'discolab[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    try:
        remote = ray.remote(run_cell)
        pending = {remote.remote(sweep.function, c, s): (c, s) for c, s in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started_here:
            ray.shutdown()


def add_sweep_arguments(parser) -> None:
    """The flags every sweep-running command shares."""
    parser.add_argument("--executor", choices=EXECUTORS, default="local")
    parser.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    parser.add_argument("--address", default=None, help="Ray cluster address (ray executor)")
    parser.add_argument("--db", default=None, help="runs database URL (default: DATA_HOME/runs.sqlite)")


def print_result(config: Mapping, seed: int, metrics: Mapping, as_json: bool = False, **extra: Any) -> None:
    """One run's result on stdout (the ``train`` commands): a JSON object with its config, seed, metrics
    and ``extra`` entries, or one aligned ``name value`` line per metric."""
    if as_json:
        print(json.dumps({"config": config, "seed": seed, **metrics, **extra}))
        return
    width = max(map(len, metrics), default=0) + 2
    for key, value in metrics.items():
        print(f"{key:{width}s} {value:.4f}" if isinstance(value, float) else f"{key:{width}s} {value}")
