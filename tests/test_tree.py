"""Sometimes I am a tree: the grammar's generator and parser, the train / test split that makes the rules disagree,
a quick training run, the sweep's analysis, the tools and the dashboard page."""

import random

import pytest
from conftest import REPO
from discolab.core.errors import DiscolabError
from discolab.core.tree.grammar import (
    ALL_TEMPLATES,
    AUXILIARY_TOKENS,
    CENTER_TEMPLATES,
    RELATIVE_CLAUSES,
    SIMPLE_TEMPLATES,
    Lexicon,
    TreeDataConfig,
    build_data,
    parse,
    question_by_parse,
    sample_sentence,
    training_templates,
)
from discolab.core.tree.train import run

FULL = Lexicon(12, 9, 8, 6, 8)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread is fastest, and a second one only contends with whatever else runs."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def question_data():
    return build_data(TreeDataConfig(n_train=3000, n_test=300, center_share=0.5), seed=0)


@pytest.fixture(scope="module")
def tense_data():
    return build_data(TreeDataConfig(task="tense", n_train=3000, n_test=300, center_share=0.5), seed=0)


def test_templates_are_distinct_and_split_into_simple_and_center_embedded():
    assert len(ALL_TEMPLATES) == 35 and len({t.categories() for t in ALL_TEMPLATES}) == 35
    assert len({t.categories("tense") for t in ALL_TEMPLATES}) == 35  # still distinct without auxiliaries
    assert len(SIMPLE_TEMPLATES) == 14 and len(CENTER_TEMPLATES) == 21
    assert all(t.subject in RELATIVE_CLAUSES for t in CENTER_TEMPLATES)


@pytest.mark.parametrize("task", ["question", "tense"])
def test_generator_output_parses_back_to_its_template(task):
    rng = random.Random(0)
    form = "aux" if task == "question" else "past"
    for template in ALL_TEMPLATES:
        for _ in range(20):
            sentence = sample_sentence(template, FULL, rng)
            tokens = sentence.tokens(form)
            assert [FULL.category(t, task) for t in tokens] == list(template.categories(task))
            parsed = parse(tokens, FULL, task)
            assert parsed.template == template
            assert parsed.main_index == sentence.main_verb_index(form) - (1 if task == "question" else 0)
            if task == "question":  # the question made by the generator = the one the parse alone gives
                assert question_by_parse(tokens, FULL) == sentence.question()
            else:
                assert parse(sentence.tokens("present"), FULL, "tense").template == template


def test_parser_rejects_what_the_grammar_cannot_make():
    for words in (
        "the walrus giggle",  # no auxiliary
        "the walrus does giggle the yak",  # intransitive with an object
        "the walrus that the yak does giggle does smile",  # object gap needs a transitive verb
        "the walrus does amuse",  # transitive without an object
        "the walrus does giggle near",
    ):
        with pytest.raises(DiscolabError, match="not a sentence"):
            parse(words.split(), FULL)
    with pytest.raises(DiscolabError, match="unknown word"):
        parse("the dragon does giggle".split(), FULL)


def test_every_test_question_has_first_auxiliary_different_from_main_auxiliary(question_data):
    lexicon = question_data.config.lexicon
    assert len(question_data.ood_test) == 300
    for item in question_data.ood_test:
        source = list(item.tokens[: item.input_length])
        parsed = parse(source, lexicon)
        first = next(t for t in source if t in AUXILIARY_TOKENS)
        assert parsed.template.subject in RELATIVE_CLAUSES
        assert item.hierarchical == source[parsed.main_index] and item.linear == first
        assert first != source[parsed.main_index]
        assert item.tokens[item.measure_at] == item.hierarchical  # the target output starts with the main auxiliary
    assert {item.template.subject for item in question_data.ood_test} == set(RELATIVE_CLAUSES)


def test_training_questions_never_have_a_relative_clause_on_the_subject(question_data, tense_data):
    for data in (question_data, tense_data):
        lexicon, task = data.config.lexicon, data.config.task
        transforms = [item for item in data.train if item.transform]
        assert 0.4 < len(transforms) / len(data.train) < 0.6
        for item in transforms + data.id_test:
            parsed = parse(item.tokens[: item.input_length], lexicon, task)
            assert parsed.template.subject not in RELATIVE_CLAUSES
            assert item.hierarchical == item.linear  # both rules agree on everything training shows
        held_out = {item.tokens[: item.input_length] for item in data.ood_test + data.id_test}
        assert not held_out & {item.tokens[: item.input_length] for item in data.train}


def test_tense_test_items_pit_the_head_noun_against_a_closer_noun(tense_data):
    lexicon = tense_data.config.lexicon
    singular = {v[1] for v in (*lexicon.intransitive, *lexicon.transitive)}
    for item in tense_data.ood_test:
        assert item.template.subject in ("rc_vo", "rc_sv")
        assert item.hierarchical != item.linear and {item.hierarchical, item.linear} <= singular | {
            v[0] for v in (*lexicon.intransitive, *lexicon.transitive)
        }
        head = item.tokens[1]  # "D N ...": the head noun
        assert (item.hierarchical in singular) == (head in {n[0] for n in lexicon.nouns})


def test_complexity_and_diversity_set_the_training_mix():
    for share in (0.0, 0.25, 1.0):
        data = build_data(TreeDataConfig(n_train=4000, n_test=50, center_share=share), seed=1)
        identity = [item for item in data.train if not item.transform]
        center = sum(item.template.center_embedded for item in identity) / len(identity)
        assert center == pytest.approx(share, abs=0.04)
    narrow = TreeDataConfig(n_train=2000, n_test=200, n_templates=3)
    simple, center = training_templates(narrow)
    assert len(simple) == len(center) == 3 and training_templates(narrow) == (simple, center)
    data = build_data(narrow, seed=0)
    assert {item.template for item in data.train} <= set(simple) | set(center)
    assert {item.template for item in data.ood_test} == set(CENTER_TEMPLATES)  # the test covers every template


def test_data_are_seeded():
    config = TreeDataConfig(n_train=200, n_test=50)
    first, again, other = build_data(config, 3), build_data(config, 3), build_data(config, 4)
    assert first.train == again.train and first.ood_test == again.ood_test
    assert first.train != other.train


def test_bad_configs_raise_clear_errors():
    with pytest.raises(DiscolabError, match="center_share"):
        TreeDataConfig(center_share=1.5)
    with pytest.raises(DiscolabError, match="unknown task"):
        TreeDataConfig(task="passive")
    with pytest.raises(DiscolabError, match="n_nouns"):
        Lexicon(n_nouns=1)
    with pytest.raises(DiscolabError, match="unknown tree config keys"):
        run({"steps": 5, "n_expert": 3}, seed=0)
    with pytest.raises(DiscolabError, match="schedule"):
        run({"steps": 5, "schedule": "linear"}, seed=0)
    with pytest.raises(DiscolabError, match="too small"):
        small = {"n_nouns": 2, "n_intransitive": 1, "n_transitive": 1, "n_determiners": 1, "n_prepositions": 1}
        build_data(TreeDataConfig(n_test=300, n_templates=1, **small), 0)  # 'D N A Vi P D N': 128 sentences


def test_a_quick_run_trains_and_records_a_trajectory():
    config = {"steps": 120, "eval_every": 40, "n_train": 1000, "n_test": 100, "d_model": 32, "n_layers": 1}
    config |= {"lr": 3e-3, "warmup": 10, "batch_size": 32}
    rows = run(config, seed=0)
    by_metric = {}
    for row in rows:
        by_metric.setdefault(row["metric"], []).append((row["step"], row["value"]))
    losses = [v for _, v in by_metric["train_loss"]]
    assert [s for s, _ in by_metric["ood_hierarchical"]] == [0, 40, 80, 120]
    assert losses[-1] < 0.7 * losses[0]  # the loss falls
    for step, hierarchical in by_metric["ood_hierarchical"]:
        linear = dict(by_metric["ood_linear"])[step]
        assert 0 <= hierarchical <= 1 and 0 <= linear <= 1 and hierarchical + linear <= 1 + 1e-9
    assert by_metric["params"][0][0] == 120 and by_metric["train_seconds"][0][1] > 0
    short = {**config, "steps": 20, "eval_every": 10}
    strip = lambda rows: [r for r in rows if r["metric"] != "train_seconds"]  # noqa: E731
    assert strip(run(short, seed=0)) == strip(run(short, seed=0)) != strip(run(short, seed=1))
    tense = run({**short, "task": "tense"}, seed=0)
    assert {"ood_hierarchical", "id_accuracy"} <= {r["metric"] for r in tense}


def test_crossings_count_the_oscillation_between_rules():
    from discolab.experiments.tree_eval import crossings

    assert crossings([0.2, 0.4, 0.6, 0.7, 0.3, 0.5, 0.8]) == 3  # up, down, up (the 0.5 itself is skipped)
    assert crossings([0.9, 0.95, 1.0]) == 0 and crossings([]) == 0


def test_complexity_effect_detects_a_push_towards_the_hierarchical_rule():
    import numpy as np
    import pandas as pd
    from discolab.experiments.tree_eval import complexity_effect

    rng = np.random.default_rng(0)
    rows = []
    for diversity, slope in (("2", 0.4), ("all", 0.0)):
        for share in (0.0, 0.5, 1.0):
            for seed in range(8):
                value = 0.4 + slope * share + rng.normal(0, 0.05)
                rows.append({"diversity": diversity, "center_share": share, "seed": seed, "ood_hierarchical": value})
    effect = complexity_effect(pd.DataFrame(rows)).set_index("diversity")
    assert effect.loc["2", "spearman_rho"] > 0.8 and effect.loc["2", "mannwhitney_p"] < 0.001
    assert abs(effect.loc["all", "spearman_rho"]) < 0.5 and effect.loc["all", "mannwhitney_p"] > 0.01
    assert effect.loc["2", "highest_share_mean"] - effect.loc["2", "lowest_share_mean"] > 0.3
    assert np.isnan(effect.loc["2", "spearman_rho_rc_sv"])  # no per-kind column in this table


def test_sweep_analysis_tools_and_page_on_a_tiny_sweep():
    from discolab.agents.tools import call_tool
    from discolab.agents.tools import tree as _tree_tools  # noqa: F401  (registers the tools)
    from discolab.core.runs import RunsDB
    from discolab.experiments.sweep import run_sweep
    from discolab.experiments.tree_eval import EXPERIMENT, analyse, final_table, report, sweep, trajectories
    from streamlit.testing.v1 import AppTest

    plan = sweep([0, 1, 2, 3], quick=True, complexity=(0.0, 1.0), diversity=(2, None), template_seeds=(0,))
    plan.configs = [{**c, "steps": 6, "eval_every": 2} for c in plan.configs]
    plan.name = EXPERIMENT
    outcome = run_sweep(plan, RunsDB(), progress=False)
    assert outcome.failed == 0 and outcome.done == 16
    trajectory = trajectories(RunsDB())
    assert sorted(trajectory["step"].unique()) == [0, 2, 4, 6]
    final = final_table(trajectory)
    assert len(final) == 16 and set(final["diversity"]) == {"2", "all"} and (final["step"] == 6).all()
    summary = analyse(final)
    assert len(summary) == 4 and (summary["seeds"] == 4).all() and summary["dip_pvalue"].notna().all()
    text = report(RunsDB())
    assert "16 trained models (4 seeds)" in text and "Hierarchical seeds" in text
    assert text.rsplit("plot: ", 1)[1].strip().endswith("tree_hierarchical.png")
    results = call_tool("tree_results", {})
    assert len(results["conditions"]) == 4 and len(results["seeds"]) == 16
    assert [row["shares"] for row in results["complexity_effect"]] == [2, 2]
    trained = call_tool("tree_train", {"steps": 10, "d_model": 32, "n_layers": 1})
    assert 0 <= trained["ood_hierarchical"] <= 1 and len(trained["ood_hierarchical_trajectory"]) == 11

    app = AppTest.from_file(str(REPO / "ui" / "pages" / "tree.py"), default_timeout=120)
    app.run()
    assert not app.exception and not app.error
    assert len(app.dataframe) == 2 and any(s.value.startswith("Outcomes per seed") for s in app.subheader)
    assert list(app.dataframe[1].value["diversity"]) == ["2", "all"]  # the complexity-effect table
    app.number_input(key="tree_steps").set_value(10)
    next(b for b in app.button if b.label == "Train").click().run()
    assert not app.exception and not app.error and app.metric[0].label == "OOD hierarchical"


def test_template_subsets_are_drawn_per_diversity_and_reported_apart():
    import pandas as pd
    from discolab.experiments.tree_eval import _order, configs, most_promising, subset_table

    grid = configs(complexity=(0.0, 1.0), diversity=(2, None), template_seeds=(0, 1, 2))
    assert len(grid) == 2 * 3 + 2  # all templates has one subset
    assert sum("template_seed" not in c for c in grid) == 4  # subset 0 is the grammar's default: old cells stay done
    assert _order(["all", "2/t2", "6", "2", "2/t1"]) == ["2", "2/t1", "2/t2", "6", "all"]
    rows = [  # subset 1 of 2 templates carries the effect alone
        {"diversity": d, "n_templates": n, "template_seed": t, "center_share": c, "seed": k, "ood_hierarchical": v}
        for d, n, t, lift in (("2", 2, 0, 0.0), ("2/t1", 2, 1, 0.6), ("2/t2", 2, 2, 0.0), ("all", None, 0, 0.0))
        for c in (0.0, 1.0)
        for k, v in enumerate((0.1 + lift * c, 0.2 + lift * c))
    ]
    final = pd.DataFrame(rows)
    table = subset_table(final).set_index(["templates", "center_share"])
    assert table.loc[("2", 1.0), "subset 1"] == pytest.approx(0.75)
    assert table.loc[("2", 1.0), "between-subset sd"] > 4 * table.loc[("2", 1.0), "within-subset sd"]
    assert most_promising(final) == {"center_share": 1.0, "n_templates": 2, "template_seed": 1}


def test_deep_runs_go_to_the_chosen_condition_and_report_their_curves():
    from discolab.core.runs import RunsDB
    from discolab.experiments.sweep import run_sweep
    from discolab.experiments.tree_eval import DEEP, deep_report, deep_sweep

    condition = {"center_share": 0.5, "n_templates": 2, "template_seed": 1}
    full = deep_sweep(condition).configs[0]
    assert (full["n_layers"], full["steps"], full["n_templates"], full["template_seed"]) == (6, DEEP["steps"], 2, 1)
    assert "template_seed" not in deep_sweep({**condition, "template_seed": 0}).configs[0]  # the grammar's default
    plan = deep_sweep(condition, seeds=2, quick=True)
    plan.configs = [{**c, "steps": 6, "eval_every": 2} for c in plan.configs]
    assert run_sweep(plan, RunsDB(), progress=False).done == 2
    text = deep_report(RunsDB(), plan.name)
    assert text.startswith("2 deep runs,") and "hierarchical_rc_sv" in text  # the end per seed and kind
    assert "mean ± sd over the seeds: ood_hierarchical " in text
    ends, overall, object_gap = text.split("along training")
    for section in (overall, object_gap):
        curve = [line for line in section.splitlines() if line.startswith("|") and line.split("|")[1].strip().isdigit()]
        assert [int(line.split("|")[1]) for line in curve] == [0, 2, 4, 6]  # the training curve, step by step
    assert object_gap.startswith(", object-gap items")


def test_train_command_prints_the_metrics_as_json(capsys):
    import argparse
    import json

    from discolab.experiments.tree_eval import add_train_arguments, train_command

    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--steps", "6", "--d-model", "32", "--templates", "3", "--center-share", "1", "--json"])
    assert train_command(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["config"]["n_templates"] == 3 and printed["config"]["center_share"] == 1.0
    assert 0 <= printed["ood_hierarchical"] <= 1 and printed["trajectory"][0]["step"] == 0


def test_exploration_flag_runs_each_run_of_the_exploration_as_a_sweep_cell(monkeypatch, capsys):
    import argparse

    from discolab.core.runs import RunsDB, config_hash
    from discolab.core.tree.train import split_config
    from discolab.experiments import tree_eval

    plan = tree_eval.exploration_sweep()
    cells = plan.cells()
    assert plan.name == "tree-exploration" and len(cells) == 13 == len({(config_hash(c), s) for c, s in cells})
    default = {"n_nouns": 6, "n_intransitive": 4, "n_transitive": 4, "n_determiners": 3, "n_prepositions": 3}
    small = {"n_nouns": 3, "n_intransitive": 2, "n_transitive": 2, "n_determiners": 2, "n_prepositions": 2}
    common = {"n_train": 20000, "n_test": 500, "n_templates": None, "d_model": 64, "n_heads": 4}
    settings = {}
    for entry, (config, seed) in zip(plan.runs, cells):
        split_config(config)  # every key is a setting of core.tree
        assert {k: config[k] for k in common} == common
        lexicon = {k: config[k] for k in default}
        row = (config["task"], config["n_layers"], lexicon, config["lr"], config.get("weight_decay", 0.0))
        settings.setdefault(entry["label"], []).append((*row, config["center_share"], config["steps"], seed))
    assert settings == {
        "e1": [("question", 2, default, 1e-3, 0.0, share, 4000, seed) for share in (0.0, 1.0) for seed in (0, 1)],
        "e2": [("question", 2, default, 1e-3, 0.0, share, 10000, 0) for share in (1.0, 0.0)],
        "e3": [("question", 2, small, 1e-3, 0.0, share, 10000, 0) for share in (1.0, 0.0)],
        "e4": [("question", 4, default, 1e-3, 0.0, 1.0, 10000, 0)],
        "e5": [("question", 2, default, 3e-3, 0.1, 1.0, 10000, 0)],
        "e6": [("question", 4, small, 1e-3, 0.0, 1.0, 10000, 0)],
        "e7": [("question", 4, small, 1e-3, 0.0, 1.0, 30000, 0)],
        "tense": [("tense", 2, small, 1e-3, 0.0, 1.0, 5000, 0)],
    }

    # A tiny version through the flag: every run's model and lexicon, a few steps on little data.
    monkeypatch.setattr(tree_eval, "EXPLORATION_QUICK", {"n_train": 300, "n_test": 40, "eval_every": 2})
    monkeypatch.setattr(tree_eval, "QUICK_STEPS_DIVISOR", 1000)
    parser = argparse.ArgumentParser()
    tree_eval.add_arguments(parser)
    assert tree_eval.sweep_command(parser.parse_args(["--exploration", "--quick"])) == 0
    printed = capsys.readouterr().out
    assert "13 cells, 0 already done, 13 run, 0 failed" in printed and "13 of 13 runs recorded" in printed
    quick = tree_eval.exploration_sweep(quick=True)
    recorded = RunsDB().cells(quick.name)
    assert (recorded["status"] == "done").all()
    assert set(zip(recorded["config_hash"], recorded["seed"])) == {(config_hash(c), s) for c, s in quick.cells()}
    table = tree_eval.exploration_table(RunsDB(), quick)
    assert list(table["run"]) == ["e1"] * 4 + ["e2"] * 2 + ["e3"] * 2 + ["e4", "e5", "e6", "e7", "tense"]
    assert list(table["steps"]) == [4] * 4 + [10] * 7 + [30, 5] and table["ood_hierarchical"].between(0, 1).all()
    # In tense reinflection a subject-gap clause without an object has no noun between subject and main verb, so
    # both rules agree there and the test set holds none of them: n/a for rc_v, and only there.
    kinds = table["rc_v / rc_vo / rc_sv"]
    assert table["seconds"].notna().all() and not kinds[table["run"] != "tense"].str.contains("n/a").any()
    assert kinds[table["run"] == "tense"].str.startswith("n/a / ").all() and kinds.str.count("n/a").sum() == 1
