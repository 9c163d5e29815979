"""Benchmark: bytes a discovery round adds to the checkpoint store, against LangGraph's SqliteSaver.

The same run (simulated expert prior of F1 0.7, oracle experiments, structural update) is
checkpointed twice in one process: by ``SqliteSaver``, which writes every channel's value into
every checkpoint, and by discolab's :class:`RunCheckpointer`, which writes a channel's value
once per version. Graphs: benchmarks by name, or ``random:N``, a seeded random DAG over N
variables with about 1.2 parents each (the benchmarks' sparsity) and generated descriptions.
Reported per graph: bytes of the prior (round 0) and the mean bytes per later round, for both
stores, and their ratio.

Run: ``discolab bench checkpoints --graphs alarm random:1000`` (or ``python -m
discolab.experiments.bench_checkpoints``).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from discolab.agents.discovery.checkpoints import PlainDataSerializer, RunCheckpointer
from discolab.agents.discovery.configuration import DiscoverySettings
from discolab.agents.discovery.graph import build_graph
from discolab.agents.discovery.nodes import stored_graph
from discolab.core.errors import DiscolabError
from discolab.core.graphs import GraphSpec, Variable, resolve_graph
from langgraph.checkpoint.sqlite import SqliteSaver


def random_dag(n: int, seed: int = 0, parents: float = 1.2) -> GraphSpec:
    """A seeded random DAG over ``n`` variables, each with about ``parents`` parents among the earlier ones."""
    rng = random.Random(seed)
    names = [f"X{i:04d}" for i in range(n)]
    edges = set()
    for j in range(1, n):
        for _ in range(min(j, round(rng.expovariate(1 / parents)))):
            edges.add((names[rng.randrange(j)], names[j]))
    variables = tuple(Variable(name, f"Measured quantity {name}; states: low, high.") for name in names)
    return GraphSpec(f"random-{n}", "A generated network.", variables, tuple(sorted(edges)), f"random:{n}")


def graph_for(name: str) -> GraphSpec:
    """A benchmark or graph file by name, or ``random:N``."""
    if not name.startswith("random:"):
        return resolve_graph(name)
    size = name.split(":", 1)[1]
    if not size.isdigit() or not 2 <= int(size) <= 5000:
        raise DiscolabError(f"graph {name!r}: random:N takes 2 <= N <= 5000 variables")
    return random_dag(int(size))


def store_bytes(path: Path) -> int:
    """Bytes of the values stored in the database (checkpoints, writes, blobs), not its free pages."""
    with sqlite3.connect(path) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        total = 0
        for table in tables:
            columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
            total += (
                db.execute(
                    f"SELECT SUM({' + '.join(f'COALESCE(LENGTH({c}), 0)' for c in columns)}) FROM {table}"
                ).fetchone()[0]
                or 0
            )
    return total


def measure(spec: GraphSpec, store: str, rounds: int, per_round: int, folder: Path) -> dict:
    """Bytes of the store after the prior alone (R = 0) and after R rounds (a second, fresh run):
    the prior's bytes, and the mean bytes of a round."""
    totals, seconds = [], 0.0
    for r in (0, rounds):
        path = folder / f"{store}-{r}.sqlite"
        connection = sqlite3.connect(path, check_same_thread=False)
        saver = (
            RunCheckpointer(connection) if store == "discolab" else SqliteSaver(connection, serde=PlainDataSerializer())
        )
        settings = DiscoverySettings(
            graph=spec.name, prior="simulated:0.7", update="structural", rounds=r, per_round=per_round
        )
        start = time.perf_counter()
        build_graph().compile(checkpointer=saver).invoke(
            {"settings": settings.as_dict(), "graph": stored_graph(spec)}, {"configurable": {"thread_id": "bench"}}
        )
        seconds = time.perf_counter() - start
        connection.close()
        totals.append(store_bytes(path))
    return {"prior_bytes": totals[0], "bytes_per_round": (totals[1] - totals[0]) / rounds, "seconds": seconds}


def run(graphs: list[str], rounds: int = 3, per_round: int = 5) -> list[dict]:
    rows = []
    for name in graphs:
        spec = graph_for(name)
        with tempfile.TemporaryDirectory() as folder:
            results = {store: measure(spec, store, rounds, per_round, Path(folder)) for store in ("sqlite", "discolab")}
        rows.append(
            {
                "graph": name,
                "variables": len(spec.variables),
                "pairs": len(spec.variables) * (len(spec.variables) - 1),
                **{f"{store}_{key}": value for store, result in results.items() for key, value in result.items()},
                "ratio_per_round": results["sqlite"]["bytes_per_round"] / results["discolab"]["bytes_per_round"],
            }
        )
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--graphs", nargs="+", default=["asia", "alarm", "random:1000"], help="benchmarks or random:N")
    parser.add_argument("--rounds", type=int, default=3, help="rounds R >= 1 (default 3)")
    parser.add_argument("--per-round", type=int, default=5, help="experiments per round >= 1 (default 5)")
    parser.add_argument("--json", action="store_true")


def main(args: argparse.Namespace) -> int:
    if args.rounds < 1 or args.per_round < 1:
        raise DiscolabError("--rounds and --per-round must be at least 1")
    rows = run(args.graphs, args.rounds, args.per_round)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'graph':<12}{'vars':>6}{'pairs':>9}{'prior (SqliteSaver)':>21}{'prior (ours)':>14}"
          f"{'round (SqliteSaver)':>21}{'round (ours)':>14}{'ratio':>8}")  # fmt: skip
    for r in rows:
        print(
            f"{r['graph']:<12}{r['variables']:>6}{r['pairs']:>9}{_size(r['sqlite_prior_bytes']):>21}"
            f"{_size(r['discolab_prior_bytes']):>14}{_size(r['sqlite_bytes_per_round']):>21}"
            f"{_size(r['discolab_bytes_per_round']):>14}{r['ratio_per_round']:>7.1f}x"
        )
    return 0


def _size(n: float) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    raise SystemExit(main(parser.parse_args()))
