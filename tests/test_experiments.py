"""The experiment commands in quick mode: they run through the sweep runner into the database."""

import pytest
from discolab.core.runs import RunsDB
from discolab.ui.cli import main as cli


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'runs.sqlite'}"


def test_count_task_quick_trains_sweeps_and_analyses(url, capsys, tmp_path):
    from discolab.experiments import count_task

    assert count_task.main(["--quick", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "depth axis: ood_exact across seeds per model size" in out and "width axis: ood_loglik" in out
    assert "plot:" in out and "held-out ID mean" in out and "OOD exact match during training" in out
    wide = RunsDB(url).wide("count-task-quick")
    assert len(wide) == 3 * 3  # 1x16 (on both axes, trained once), 2x16, 1x24
    curve = wide[["ood_exact@50", "ood_exact@100", "ood_exact@150"]]
    assert curve.notna().all().all() and (wide["ood_exact@150"] == wide["ood_exact"]).all()
    assert wide["id_exact"].between(0, 1).all() and (wide["ood_loglik"] < 0).all()
    assert wide["train_exact"].between(0, 1).all() and wide["ood_exact_span12"].between(0, 1).all()
    assert wide.groupby("size")["params"].nunique().eq(1).all()
    # a rerun finds every cell done and trains nothing
    assert count_task.main(["--quick", "--db", url]) == 0
    assert "9 already done, 0 run" in capsys.readouterr().out
    # --report-only prints the same analysis and runs no sweep; --docs-images copies one plot per axis
    images = tmp_path / "img"
    assert count_task.main(["--quick", "--db", url, "--report-only", "--docs-images", str(images)]) == 0
    out = capsys.readouterr().out
    assert "sweep" not in out and "depth axis: ood_exact" in out
    written = sorted(p.name for p in images.iterdir())
    assert written == ["count_task_depth_ood_exact.png", "count_task_width_ood_exact.png"]


def test_count_task_scores_in_distribution_on_prompts_training_never_draws():
    import numpy as np
    from discolab.experiments import count_task

    pool, held_out = count_task.split_examples()
    training = {tuple(e) for examples in pool.values() for e in examples}
    held = {tuple(e) for e in held_out}
    assert len(training) + len(held) == len(count_task.all_examples(count_task.TRAIN_SPANS)) == 484
    assert not training & held and len(held) == pytest.approx(0.2 * 484, abs=8)
    assert {e[1] - e[0] + 1 for e in held} == set(range(1, 9))  # every training length is held out too
    rng = np.random.default_rng(0)
    for _ in range(50):
        inputs, _, offsets = count_task.training_batch(rng, 64, pool)
        for row in inputs.tolist():
            drawn = row[: row.index(count_task.EOS) + 1] if count_task.EOS in row else row + [count_task.EOS]
            assert tuple(drawn) in training
    assert offsets.max() > 0
    assert count_task.training_batch(rng, 8, pool, random_start=False)[2].eq(0).all()


def test_igda_eval_quick_reports_tables_wins_and_plots(url, tmp_path, capsys):
    from discolab.experiments import igda_eval

    assert igda_eval.main(["--quick", "--db", url, "--plots", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "igda-eval: F1 after the last round" in out and "graphs won at each budget" in out
    assert (tmp_path / "igda_f1_pc.png").exists()
    frame = igda_eval.trajectories(RunsDB(url), "igda-eval")
    assert set(frame["round"]) == set(range(igda_eval.CONTROLLED_ROUNDS + 1))
    assert frame.groupby(["config_hash", "seed"]).ngroups == len(igda_eval.sweeps(True, False, [0, 1])[0].cells())
    tests = igda_eval.paired_tests(frame, {})
    pc = tests[(tests["prior"] == "pc") & (tests["versus"] == "random+structural")].iloc[0]
    assert pc["runs"] == 4 and pc["f1"].endswith(("(win)", "(tie)", "(loss)")) and "p=" in pc["shd"]
    assert "paired Wilcoxon tests" in out


def test_runs_cli_lists_and_exports(url, tmp_path, capsys):
    db = RunsDB(url)
    db.record("demo", {"x": 1}, 0, {"y": 2.0})
    assert cli(["runs", "list", "--db", url]) == 0
    assert "demo" in capsys.readouterr().out
    target = tmp_path / "demo.csv"
    assert cli(["runs", "export", "demo", "--csv", str(target), "--db", url]) == 0
    assert target.read_text().count("\n") == 2
    assert cli(["runs", "export", "nope", "--csv", str(target), "--db", url]) == 2
