"""The sweep runner: every cell once, reruns finish only what is missing, failures recorded."""

import math
import sys

import pytest
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB
from discolab.experiments.sweep import Sweep, grid_configs, run_sweep


def noisy_square(config: dict, seed: int) -> list[dict]:
    """A toy experiment with a trajectory: x^2 + seed at steps 0..2; fails for x == 3."""
    if config["x"] == 3:
        raise ValueError("x = 3 is not allowed")
    return [{"metric": "y", "value": config["x"] ** 2 + seed + step, "step": step} for step in range(3)]


@pytest.fixture
def db(tmp_path):
    return RunsDB(f"sqlite:///{tmp_path / 'runs.sqlite'}")


def test_grid_configs_is_the_product_with_fixed_values():
    configs = grid_configs({"a": [1, 2], "b": ["x", "y", "z"]}, rounds=4)
    assert len(configs) == 6 and all(c["rounds"] == 4 for c in configs)
    assert {(c["a"], c["b"]) for c in configs} == {(a, b) for a in (1, 2) for b in "xyz"}


@pytest.mark.parametrize("workers", [1, 2])
def test_sweep_runs_each_cell_records_failures_and_skips_done_cells(db, workers):
    sweep = Sweep("squares", noisy_square, grid_configs({"x": [1, 2, 3]}), seeds=[0, 1])
    report = run_sweep(sweep, db, workers=workers, progress=False)
    assert (report.total, report.done, report.failed, report.skipped) == (6, 4, 2, 0)
    assert "x = 3 is not allowed" in report.errors[0]
    wide = db.wide("squares")
    assert len(wide) == 4 * 3
    assert wide.query("x == 2 and seed == 1 and step == 2")["y"].item() == 7
    again = run_sweep(sweep, db, workers=workers, progress=False)
    assert (again.skipped, again.done, again.failed) == (4, 0, 2)  # only the failed cells are retried


def test_an_interrupted_sweep_finishes_only_what_is_missing(db):
    small = Sweep("grow", noisy_square, grid_configs({"x": [0, 1]}), seeds=[0, 1, 2])
    run_sweep(small, db, progress=False)
    bigger = Sweep("grow", noisy_square, grid_configs({"x": [0, 1, 2]}), seeds=[0, 1, 2, 3])
    report = run_sweep(bigger, db, progress=False)
    assert (report.skipped, report.done) == (6, 6)
    assert len(db.done_cells("grow")) == 12


def test_unknown_executor_is_named(db):
    with pytest.raises(DiscolabError, match="unknown executor"):
        run_sweep(Sweep("s", noisy_square, [{"x": 1}], [0]), db, executor="dask")


def test_ray_executor_runs_the_same_sweep_on_a_local_cluster(db):
    ray = pytest.importorskip("ray")
    # Ray's workers cannot import this test module: ship the experiment function by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        sweep = Sweep("ray-squares", noisy_square, grid_configs({"x": [1, 2, 3, 4]}), seeds=[0, 1])
        report = run_sweep(sweep, db, executor="ray", progress=False)
    finally:
        ray.shutdown()
    assert (report.done, report.failed) == (6, 2)
    wide = db.wide("ray-squares")
    assert math.isclose(wide.query("x == 4 and seed == 1 and step == 0")["y"].item(), 17)
