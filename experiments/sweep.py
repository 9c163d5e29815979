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
cells in flight. Ctrl+C (or SIGTERM) cancels the cells not started, stops the running ones, records those that
had finished and raises :class:`SweepInterrupted` (a KeyboardInterrupt) saying how far it got.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
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


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl+C during a sweep, after the finished cells were recorded; its message says how far it got."""

    def __init__(self, report: SweepReport):
        self.report = report
        finished = report.done + report.failed
        left = report.total - report.skipped - finished
        super().__init__(
            f"sweep {report.name} interrupted: {finished} cells finished and are recorded, {left} not run; "
            "run the same command again to continue"
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

    def record(config: dict, seed: int, status: str, payload: Any, seconds: float) -> None:
        if status == "done":
            db.record(sweep.name, config, seed, payload, setting=sweep.setting(config), seconds=seconds)
            report.done += 1
        else:
            db.record_failure(sweep.name, config, seed, payload, seconds=seconds)
            report.failed += 1
            report.errors.append(f"{config} seed {seed}: {payload.strip().splitlines()[-1]}")

    if executor == "ray":
        runner: _Cells = _RayCells(sweep.function, todo, address)
    elif (workers or 1) > 1:
        runner = _PoolCells(sweep.function, todo, workers)
    else:
        runner = _Cells(sweep.function, todo)
    with runner, _terminate_as_interrupt():
        recording = []  # the cell being written, which Ctrl+C may cut short (writing it again replaces it)
        try:
            for (config, seed), outcome in runner:
                recording = [((config, seed), outcome)]
                record(config, seed, *outcome)
                recording = []
                bar.update()
                bar.set_postfix(failed=report.failed)
        except KeyboardInterrupt:
            finished = recording + runner.finished()  # computed, but not yet written when Ctrl+C came
            runner.stop()  # before recording: nothing else runs on while we write
            for (config, seed), outcome in finished:
                record(config, seed, *outcome)
            bar.close()
            raise SweepInterrupted(report) from None
    bar.close()
    report.seconds = time.perf_counter() - start
    return report


class _Cells:
    """Runs cells and yields ``((config, seed), outcome)`` as each finishes; this base runs them in this
    process, one after another (simplest to debug, and cells share loaded models). A context manager:
    leaving it stops whatever still runs."""

    def __init__(self, function: Callable, todo: list):
        self.function, self.todo = function, todo

    def __iter__(self) -> Iterator:
        for config, seed in self.todo:
            yield (config, seed), run_cell(self.function, config, seed)

    def finished(self) -> list:
        """Cells that finished but were not yielded yet (after an interrupt)."""
        return []

    def stop(self) -> None:
        """Cancel the cells not started and end the running ones."""

    def __enter__(self) -> _Cells:
        return self

    def __exit__(self, *error) -> None:
        self.stop()


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill PID``, a job's cancel) stops the sweep as Ctrl+C does: what finished is recorded
    and the workers are ended, rather than left running with no one to collect their cells."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; a sweep run from another has the caller's
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _ignore_interrupts() -> None:
    # Ctrl+C reaches every process of the terminal's group: the workers leave it to the sweep's
    # process, which records what finished before it stops them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _PoolCells(_Cells):
    """Cells on a local process pool."""

    def __init__(self, function: Callable, todo: list, workers: int):
        threads = max(1, (os.cpu_count() or 1) // workers)
        # spawn, not fork: a forked copy of a process that has started torch threads can hang.
        self.pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_ignore_interrupts)
        self.pending = {self.pool.submit(run_cell, function, c, s, threads): (c, s) for c, s in todo}

    def __iter__(self) -> Iterator:
        for future in as_completed(list(self.pending)):
            yield self.pending.pop(future), future.result()

    def finished(self) -> list:
        ready = [f for f in self.pending if f.done() and not f.cancelled() and f.exception() is None]
        return [(self.pending.pop(f), f.result()) for f in ready]

    def stop(self) -> None:
        # The executor has no public way to end running workers (Python 3.14 adds one): ended through its
        # process table, they make it see a broken pool, drop what was queued and reap them as it shuts down.
        for process in list((self.pool._processes or {}).values()):
            process.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __exit__(self, *error) -> None:
        if error[0] is None:
            self.pool.shutdown()  # every cell finished: let the workers exit by themselves
        else:
            self.stop()


class _RayCells(_Cells):
    """Cells as Ray tasks, on a cluster or a local Ray."""

    def __init__(self, function: Callable, todo: list, address: str | None):
        try:
            import ray
        except ImportError:
            raise DiscolabError("the ray executor needs Ray: pip install 'discolab[ray]'") from None
        self.ray = ray
        self.started_here = not ray.is_initialized()
        if self.started_here:
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        remote = ray.remote(run_cell)
        self.pending = {remote.remote(function, c, s): (c, s) for c, s in todo}

    def __iter__(self) -> Iterator:
        while self.pending:
            ready, _ = self.ray.wait(list(self.pending), num_returns=1)
            for ref in ready:
                yield self.pending.pop(ref), self.ray.get(ref)

    def finished(self) -> list:
        if not self.pending:
            return []
        ready, _ = self.ray.wait(list(self.pending), num_returns=len(self.pending), timeout=0)
        return [(self.pending.pop(ref), self.ray.get(ref)) for ref in ready]

    def stop(self) -> None:
        for ref in self.pending:
            self.ray.cancel(ref, force=True)
        self.pending.clear()

    def __exit__(self, *error) -> None:
        self.stop()
        if self.started_here:
            self.ray.shutdown()


def add_sweep_arguments(parser) -> None:
    """The flags every sweep-running command shares."""
    parser.add_argument("--executor", choices=EXECUTORS, default="local")
    parser.add_argument("--workers", type=int, default=1, help="local processes (default 1)")
    parser.add_argument("--address", default=None, help="Ray cluster address (ray executor)")
    parser.add_argument("--db", default=None, help="runs database URL (default: DATA_HOME/runs.sqlite)")


def run_sweep_from_arguments(sweep: Sweep, db: RunsDB, args) -> SweepReport:
    """Run ``sweep`` with the flags of :func:`add_sweep_arguments`; print its line and first failures."""
    result = run_sweep(sweep, db, args.executor, args.workers, args.address)
    print(result.line())
    for error in result.errors[:5]:
        print("  failed:", error)
    return result


def print_result(config: Mapping, seed: int, metrics: Mapping, as_json: bool = False, **extra: Any) -> None:
    """One run's result on stdout (the ``train`` commands): a JSON object with its config, seed, metrics
    and ``extra`` entries, or one aligned ``name value`` line per metric."""
    if as_json:
        print(json.dumps({"config": config, "seed": seed, **metrics, **extra}))
        return
    width = max(map(len, metrics), default=0) + 2
    for key, value in metrics.items():
        print(f"{key:{width}s} {value:.4f}" if isinstance(value, float) else f"{key:{width}s} {value}")
