"""DDEQ: the MMD maths, the particle flow as a torchdeq solver, invariances, data, a quick training run."""

import numpy as np
import pytest
import torch
from discolab.core.ddeq.data import digit_clouds, remove_disc, shape_clouds, split
from discolab.core.ddeq.flow import MMDFlowStep, mmd_flow_solver
from discolab.core.ddeq.mmd import chamfer, mmd2, mmd_velocity
from discolab.core.ddeq.model import DDEQ, DDEQConfig, PointNet, parameter_count
from discolab.core.ddeq.train import run, run_completion


def clouds(batch=4, n=20, p=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    points = torch.randn(batch, n, p, generator=generator)
    mask = torch.ones(batch, n, dtype=torch.bool)
    mask[:, n - 5 :] = torch.arange(5) < torch.arange(batch).unsqueeze(1)  # clouds of different sizes
    return points, mask


@pytest.mark.parametrize("kernel, bandwidth", [("energy", 0.5), ("energy", 1e-6), ("gaussian", 1.3)])
def test_velocity_is_m_times_the_gradient_of_half_mmd2(kernel, bandwidth):
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(3, 7, 5, dtype=torch.float64, generator=generator, requires_grad=True)
    target = torch.randn(3, 9, 5, dtype=torch.float64, generator=generator)
    (gradient,) = torch.autograd.grad(0.5 * mmd2(z, target, kernel=kernel, bandwidth=bandwidth).sum(), z)
    torch.testing.assert_close(mmd_velocity(z, target, kernel, bandwidth), 7 * gradient)


def test_mmd2_is_a_distance_between_measures_and_ignores_padding():
    points, mask = clouds()
    assert mmd2(points, points, mask, mask).abs().max() < 1e-5
    order = torch.randperm(points.shape[1])
    assert mmd2(points, points[:, order], mask, mask[:, order]).abs().max() < 1e-5  # a measure has no order
    other = points + 0.5
    assert (mmd2(points, other, mask, mask) > 1e-2).all()
    garbage = points.masked_fill(~mask.unsqueeze(-1), 1e3)  # padded entries are never read
    torch.testing.assert_close(mmd2(garbage, other, mask, mask), mmd2(points, other, mask, mask))
    doubled = torch.cat([points[:, :15], points[:, :15]], 1)  # every point twice: the same uniform measure
    assert mmd2(points[:, :15], doubled).abs().max() < 1e-5


def test_chamfer_hand_case():
    x = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])
    y = torch.tensor([[[0.0, 0.0], [3.0, 0.0], [9.0, 9.0]]])
    y_mask = torch.tensor([[True, True, False]])
    # x -> y: 0 and 1 (mean 0.5); y -> x: 0 and 2 (mean 1.0)
    assert chamfer(x, y, None, y_mask).item() == pytest.approx(1.5)


def test_the_flow_reduces_mmd_to_the_fixed_point_by_orders_of_magnitude_on_a_fixed_layer():
    torch.manual_seed(0)
    model = DDEQ(DDEQConfig()).eval()
    points, mask = clouds(batch=8, n=30)
    _, residuals = model.flow_path(points, mask, 80)
    relative = residuals[:, -1] / residuals[:, 0]
    assert relative.median() < 1e-2
    assert (residuals[:, 1:].mean(0) <= residuals[:, :-1].mean(0) * 1.5).all()  # no blow-up on the way


def test_solver_stops_at_tolerance_and_reports_per_cloud_statistics():
    generator = torch.Generator().manual_seed(1)
    target = torch.randn(4, 6, 3, generator=generator)
    step = MMDFlowStep(lambda z: target, lr=1.0, kernel="energy", bandwidth=1.0)  # f ignores Z: flow to a measure
    z0 = torch.randn(4, 6, 3, generator=generator)
    with torch.no_grad():
        z_star, _, stats = mmd_flow_solver(step.map, z0, max_iter=400, tol=1e-4, flow_step=step)
    assert (stats["rel_lowest"] < 1e-4).all()
    assert stats["rel_trace"].shape[1] < 400  # stopped early
    final, initial = mmd2(z_star, target, bandwidth=1.0), mmd2(z0, target, bandwidth=1.0)
    torch.testing.assert_close(final / initial, stats["rel_lowest"])  # the kept iterate is the lowest one


@pytest.mark.parametrize("backward", ["phantom", "implicit"])
def test_gradients_reach_the_layer_through_torchdeq(backward):
    torch.manual_seed(0)
    model = DDEQ(DDEQConfig(backward=backward, max_steps=15)).train()
    points, mask = clouds()
    model(points, mask).sum().backward()
    for name in ("layer.cross_attention.in_proj_weight", "layer.mlp.0.weight", "encoder.embed.0.weight"):
        gradient = dict(model.named_parameters())[name].grad
        assert gradient is not None and torch.isfinite(gradient).all() and gradient.abs().sum() > 0, name


def test_predictions_do_not_depend_on_point_order_and_the_layer_is_equivariant_in_particles():
    torch.manual_seed(0)
    points, mask = clouds(batch=3, n=25)
    order = torch.randperm(25)
    for model in (DDEQ(DDEQConfig(max_steps=20)).eval(), PointNet(2, 10)):
        with torch.no_grad():
            gap = (model(points, mask) - model(points[:, order], mask[:, order])).abs().max()
        assert gap < 1e-4
    model = DDEQ(DDEQConfig()).eval()
    with torch.no_grad():
        h = model.encoder(points, mask)
        z = torch.randn(3, 10, 64)
        particles = torch.randperm(10)
        torch.testing.assert_close(model.layer(z[:, particles], h, mask), model.layer(z, h, mask)[:, particles])
    # the check can fail: a model that reads the first point is not invariant
    first = points[:, 0].sum(-1)
    assert (first - points[:, order][:, 0].sum(-1)).abs().max() > 1e-3


def test_a_clouds_prediction_does_not_depend_on_its_place_or_company_in_the_batch():
    """The same cloud alone, first and last in a batch gives the same output: Z_0 is shared, and each
    cloud stops at its own tolerance however long the others take. The check can fail: a per-position
    initial draw (the old behaviour) moves the logits by far more than the tolerance."""
    torch.manual_seed(0)
    model = DDEQ(DDEQConfig(max_steps=40, tol=1e-2)).eval()
    points, mask = clouds(batch=6, n=30, seed=3)
    cloud, cloud_mask = points[:1, :20], mask[:1, :20]  # a cloud shorter than the batch's padding

    def padded(x, m):
        return torch.cat([x, torch.zeros(1, 10, 2)], 1), torch.cat([m, torch.zeros(1, 10, dtype=torch.bool)], 1)

    with torch.no_grad():
        alone = model(cloud, cloud_mask)
        first = model(*map(torch.cat, zip(padded(cloud, cloud_mask), (points[1:], mask[1:]))))[0]
        last = model(*map(torch.cat, zip((points[1:], mask[1:]), padded(cloud, cloud_mask))))[-1]
    torch.testing.assert_close(first, alone[0], atol=1e-4, rtol=0)
    torch.testing.assert_close(last, alone[0], atol=1e-4, rtol=0)
    z0 = model.initial_particles(3)
    assert torch.equal(z0[0], z0[2])
    drawn = torch.randn(6, 10, 64, generator=torch.Generator().manual_seed(model.init_seed))
    assert not torch.allclose(drawn[0], drawn[5])  # what a per-position draw would give


def test_training_and_evaluation_run_the_flow_to_the_same_depth():
    torch.manual_seed(0)
    model = DDEQ(DDEQConfig(max_steps=7, tol=1e-12))
    points, mask = clouds()
    for mode in (model.train, model.eval):
        mode()
        with torch.no_grad():
            model(points, mask)
        assert model.last_stats["residual_trace"].shape[1] == 7


def test_a_decaying_step_lets_a_nearly_exact_riesz_kernel_flow_settle():
    """With a fixed step the (nearly) exact energy kernel's unit-length gradients make particles
    oscillate at the scale of the step; lr / (1 + decay k) lets them settle (same fixed points)."""
    generator = torch.Generator().manual_seed(1)
    target = torch.randn(4, 6, 3, generator=generator)
    z0 = torch.randn(4, 6, 3, generator=generator)
    final = {}
    for decay in (0.0, 0.03):
        step = MMDFlowStep(lambda z: target, lr=1.0, kernel="energy", bandwidth=0.05, decay=decay)
        z = z0
        for _ in range(300):
            z = step.map(z)
            step.advance()
        final[decay] = mmd2(z.double(), target.double()).median().item()  # the exact energy distance
        assert step.step_size == pytest.approx(1.0 / (1 + decay * 300))
    assert final[0.0] > 1e-2 and final[0.03] < 1e-6


def test_data_sets_are_seeded_padded_and_split_by_class():
    digits = digit_clouds(seed=0)
    assert len(digits) == 1797 and digits.point_dim == 2 and digits.points.abs().max() <= 1.0
    counts = digits.mask.sum(1)
    assert counts.min() >= 48 and counts.max() <= 64
    a, b = shape_clouds(n_per_class=5, seed=3), shape_clouds(n_per_class=5, seed=3)
    assert torch.equal(a.points, b.points) and a.point_dim == 3 and len(a.classes) == 8
    assert not torch.equal(a.points, shape_clouds(n_per_class=5, seed=4).points)
    train, test = split(shape_clouds(n_per_class=8, dim=2), seed=0)
    assert np.bincount(test.labels.numpy()).tolist() == [2] * 6 and len(train) == 36


def test_remove_disc_cuts_the_points_nearest_a_chosen_point():
    points, mask = clouds(batch=2, n=40)
    kept = remove_disc(points, mask, 0.25, torch.Generator().manual_seed(0))
    for i in range(2):
        real = mask[i].sum().item()
        cut = mask[i] & ~kept[i]
        assert cut.sum().item() == round(0.25 * real)
        removed, remaining = points[i][cut], points[i][kept[i]]
        centre = removed.mean(0)  # the cut is a ball: all removed points are closer to it than the kept ones'
        assert (removed - centre).norm(dim=1).max() < (remaining - centre).norm(dim=1).max()


def test_a_quick_training_run_beats_chance():
    config = {"model": "ddeq", "data": "shapes", "dim": 2, "n_per_class": 30, "epochs": 10, "lr": 5e-3}
    _, metrics = run({**config, "d_model": 32, "max_steps": 25}, seed=0)
    # 45 test clouds of 6 classes: chance is 1/6 (sd of a guesser's accuracy ~0.056)
    assert metrics["accuracy"] > 1.8 * metrics["chance"]
    assert metrics["permutation_gap"] < 1e-4
    assert metrics["params"] == parameter_count(DDEQ(DDEQConfig(point_dim=2, n_outputs=6, d_model=32)))
    assert metrics["relative_residual_median"] < 1e-2


def test_completion_run_reports_before_and_after_metrics():
    model, metrics, test, kept = run_completion({"epochs": 1, "n_per_class": 6, "max_steps": 5}, seed=0)
    assert metrics["mmd2_input"] > 0 and metrics["chamfer_input"] > 0
    assert {"mmd2_output", "mmd2_output_long", "spread_output", "spread_target"} <= set(metrics)
    assert kept.sum() < test.mask.sum()
    with torch.no_grad():
        assert model(test.points, kept).shape == (len(test), 32, 2)


def test_tiny_sweep_report_tools_and_train_command(capsys):
    import argparse
    import json

    from discolab.agents.tools import call_tool
    from discolab.core.runs import RunsDB
    from discolab.experiments.ddeq_eval import (
        CLASSIFY,
        COMPLETE,
        add_train_arguments,
        classify_cell,
        classify_configs,
        completion_cell,
        report,
        train_command,
    )
    from discolab.experiments.sweep import Sweep, run_sweep

    tiny = [{**c, "n_per_class": 6, "epochs": 1, "max_steps": 5} for c in classify_configs(1) if c["data"] == "shapes"]
    completion = [{"model": m, "epochs": 1, "n_per_class": 6, "max_steps": 5} for m in ("ddeq", "unrolled")]
    completion.append({**completion[0], "variant": "ddeq-gain-1", "residual_scale": 1.0})
    for sweep in (Sweep(CLASSIFY, classify_cell, tiny, [0]), Sweep(COMPLETE, completion_cell, completion, [0])):
        outcome = run_sweep(sweep, RunsDB(), progress=False)
        assert outcome.failed == 0, outcome.errors
    text = report(RunsDB())
    assert "shapes: DDEQ" in text and "x fewer parameters than PointNet" in text
    assert "step 100" in text and "mmd2_output_long" in text and "| ddeq-gain-1" in text
    depth = text.split("flow runs exactly k steps")[1]
    assert "| 120 steps" in depth and "| shapes | ddeq-riesz |" in depth
    results = call_tool("ddeq_results", {})
    assert [row["model"] for row in results["classification"]] == [
        "ddeq",
        "ddeq-riesz",
        "unrolled",
        "pointnet",
        "pointnet-small",
    ]
    assert {row["layer"] for row in results["flow_trace"]} == {"trained", "initial"}
    trained = call_tool("ddeq_train", {"data": "digits", "model": "pointnet-small", "epochs": 1})
    assert 0 <= trained["accuracy"] <= 1 and trained["params"] < 100_000

    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--data", "digits", "--model", "pointnet-small", "--epochs", "1", "--json"])
    assert train_command(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["config"]["pointnet_size"] == "small" and printed["seed"] == 0


def test_saved_models_round_trip_and_bad_files_are_named(tmp_path):
    from discolab.core.errors import DiscolabError
    from discolab.experiments.ddeq_eval import load_model, save_model

    model = DDEQ(DDEQConfig(point_dim=2, n_outputs=6, max_steps=5))
    path = tmp_path / "m.pt"
    save_model(model, path, {"data": "shapes", "dim": 2}, 4, {"accuracy": 0.25})
    loaded, record = load_model(path)
    model.init_seed = 4  # the saved seed draws the initial particles
    points, mask = clouds()
    with torch.no_grad():
        torch.testing.assert_close(loaded(points, mask), model.eval()(points, mask))
    assert record["seed"] == 4 and loaded.init_seed == 4 and record["metrics"] == {"accuracy": 0.25}
    old = torch.load(path, weights_only=True)  # a file from a version with a separate evaluation depth
    torch.save({**old, "config": {**old["config"], "eval_max_steps": 60}}, tmp_path / "old.pt")
    assert load_model(tmp_path / "old.pt")[0].config.max_steps == 5
    (tmp_path / "bad.pt").write_text("not a model")
    with pytest.raises(DiscolabError, match="bad.pt is not a saved DDEQ"):
        load_model(tmp_path / "bad.pt")
    with pytest.raises(DiscolabError, match="no saved DDEQ"):
        load_model(tmp_path / "missing.pt")
