"""Mixture of experts: routing, capacity, parameter counts, the load-balancing loss, the tasks, a quick
memorization run, the sweep's analysis, the tools and the dashboard page."""

import math

import networkx as nx
import pytest
import torch
from conftest import REPO
from discolab.core.errors import DiscolabError
from discolab.core.moe.model import MoEFFN, Transformer, TransformerConfig, load_balancing_loss
from discolab.core.moe.tasks import IGNORE, PhoneBook, ShortestPath, make_task
from discolab.core.moe.train import run


def _experts_by_hand(layer: MoEFFN, x: torch.Tensor) -> torch.Tensor:
    probs = torch.softmax(layer.router(x), dim=-1)
    gate, index = probs.topk(layer.top_k, dim=-1)
    gate = gate / gate.sum(-1, keepdim=True) if layer.top_k > 1 else gate
    out = torch.zeros_like(x)
    for t in range(len(x)):
        for g, e in zip(gate[t], index[t]):
            out[t] += g * (torch.nn.functional.gelu(x[t] @ layer.up[e]) @ layer.down[e])
    return out


@pytest.mark.parametrize("top_k", [1, 2, 3])
def test_top_k_routing_sends_each_token_to_exactly_k_distinct_experts(top_k):
    torch.manual_seed(0)
    layer = MoEFFN(d_model=16, d_ff=32, n_experts=8, top_k=top_k, capacity_factor=None)
    for p in (layer.up, layer.down):
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(40, 16)
    _, index, gate = layer.route(x)
    assert index.shape == (40, top_k)
    assert all(len(set(row.tolist())) == top_k for row in index)
    assert torch.allclose(gate.sum(-1), torch.ones(40)) or top_k == 1
    out, _ = layer(x)
    assert layer.last_load.assignments.sum().item() == 40 * top_k and layer.last_load.dropped == 0
    assert torch.allclose(out, _experts_by_hand(layer, x), atol=1e-5)  # the combination is sum_S g_i FFN_i(x)


def test_tokens_over_capacity_are_dropped_to_the_residual_path():
    torch.manual_seed(0)
    layer = MoEFFN(d_model=8, d_ff=16, n_experts=4, top_k=1, capacity_factor=1.0)
    for p in (layer.up, layer.down):
        torch.nn.init.normal_(p, std=0.3)
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.weight[0] = 5.0  # every token (positive inputs) prefers expert 0
    x = torch.rand(20, 8) + 0.1
    out, _ = layer(x)
    capacity = math.ceil(1.0 * 20 / 4)
    assert layer.capacity(20) == capacity == 5
    assert layer.last_load.assignments.tolist() == [20, 0, 0, 0] and layer.last_load.dropped == 20 - capacity
    assert torch.allclose(out[:capacity], _experts_by_hand(layer, x[:capacity]), atol=1e-5)  # served in order
    assert torch.all(out[capacity:] == 0)  # the block adds nothing: the residual stream passes unchanged
    layer.capacity_factor = None
    out, _ = layer(x)
    assert layer.last_load.dropped == 0 and torch.all(out.abs().sum(-1) > 0)


@pytest.mark.parametrize("n_experts", [1, 4, 16])
def test_moe_active_parameters_match_the_dense_counterpart(n_experts):
    sizes = {"vocab_size": 27, "block_size": 7, "d_model": 32, "n_layers": 2}
    dense = Transformer(TransformerConfig(**sizes)).parameter_counts()
    moe = Transformer(TransformerConfig(**sizes, n_experts=n_experts, top_k=1)).parameter_counts()
    assert dense.active == dense.total and dense.router == 0
    assert moe.router == 2 * 32 * n_experts
    assert moe.active - moe.router == dense.total
    assert moe.total - moe.router - dense.total == 2 * (n_experts - 1) * (2 * 32 * 128)  # the extra experts


def test_load_balancing_loss_is_one_at_uniform_routing_and_grows_with_imbalance():
    n, tokens = 4, 400
    uniform_probs = torch.full((tokens, n), 1 / n)
    spread = torch.arange(tokens).remainder(n).unsqueeze(1)
    assert load_balancing_loss(uniform_probs, spread, n).item() == pytest.approx(1.0)
    collapsed_probs = torch.nn.functional.one_hot(torch.zeros(tokens, dtype=torch.long), n).float()
    assert load_balancing_loss(collapsed_probs, torch.zeros(tokens, 1, dtype=torch.long), n).item() == pytest.approx(n)
    torch.manual_seed(0)
    for scale in (0.5, 2.0, 8.0):  # argmax routing of random logits: at least the uniform value
        probs = torch.softmax(scale * torch.randn(tokens, n) + torch.tensor([1.0, 0, 0, 0]), dim=-1)
        assert load_balancing_loss(probs, probs.argmax(-1, keepdim=True), n).item() > 1.0


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(DiscolabError, match="top_k"):
        TransformerConfig(vocab_size=10, block_size=4, n_experts=2, top_k=3)
    with pytest.raises(DiscolabError, match="divisible"):
        TransformerConfig(vocab_size=10, block_size=4, d_model=30, n_heads=4)
    with pytest.raises(DiscolabError, match="n_entries"):
        PhoneBook(n_entries=5000, name_length=3, n_letters=16)
    with pytest.raises(DiscolabError, match="edge_tokens must be one of pair, labels"):
        ShortestPath(edge_tokens="triples")
    with pytest.raises(DiscolabError, match="unknown MoE task"):
        make_task("sorting")
    with pytest.raises(DiscolabError, match="unknown parameters"):
        make_task("phonebook", n_nodes=4)
    with pytest.raises(DiscolabError, match="block_size"):
        Transformer(TransformerConfig(vocab_size=10, block_size=4))(torch.zeros(1, 5, dtype=torch.long))


def test_phone_book_is_seeded_with_distinct_names_and_answers_on_the_digits():
    book, again, other = PhoneBook(n_entries=300, seed=3), PhoneBook(n_entries=300, seed=3), PhoneBook(300, seed=4)
    assert torch.equal(book.inputs, again.inputs) and not torch.equal(book.inputs, other.inputs)
    assert len({tuple(n) for n in book.names.tolist()}) == 300
    answers = book.targets[book.targets != IGNORE].view(300, book.n_digits)
    assert torch.equal(answers, book.numbers) and book.chance == 1e-4


@pytest.mark.parametrize("edge_tokens", ["pair", "labels"])
def test_shortest_path_answers_match_networkx_and_test_graphs_are_held_out(edge_tokens):
    task = ShortestPath(n_test=1000, seed=1, edge_tokens=edge_tokens)
    label_of = {}
    first, second = torch.triu_indices(task.n_labels, task.n_labels, offset=1)
    for token, (a, b) in enumerate(zip(first.tolist(), second.tolist())):
        label_of[token] = (a, b)
    inputs, targets = task.test_set()
    assert inputs.shape[1] == task.block_size and int(inputs.max()) < task.vocab_size
    for row, target in zip(inputs[:50], targets[:50]):
        sequence = row.tolist()
        if edge_tokens == "pair":
            graph = nx.Graph([label_of[t] for t in sequence[: task.n_edges]])
        else:
            graph = nx.Graph(list(zip(sequence[0 : 2 * task.n_edges : 2], sequence[1 : 2 * task.n_edges : 2])))
            assert graph.number_of_edges() == task.n_edges and max(graph) < task.n_labels
        for position in (target != IGNORE).nonzero().flatten().tolist():
            if edge_tokens == "pair":
                s, t = label_of[sequence[position]]
            else:
                assert sequence[position - 2] == task.query_token
                s, t = sequence[position - 1], sequence[position]
            connected = s in graph and t in graph and nx.has_path(graph, s, t)
            distance = nx.shortest_path_length(graph, s, t) if connected else 99
            expected = min(distance, task.max_distance + 1) - 1
            assert target[position].item() - task.answer_offset == expected
    generator = torch.Generator().manual_seed(5)
    _, _, keys = task._sample(40000, generator)
    overlap = int(torch.isin(keys, task.test_keys).sum())
    assert overlap > 0  # the graph space is finite: some training draws do equal test graphs ...
    task.rejected = 0
    for _ in range(40):
        task.train_batch(1000, generator)
    assert task.rejected > 0  # ... and train_batch drops them (test set unseen in training)
    answers = targets[targets != IGNORE] - task.answer_offset
    assert set(answers.tolist()) == {0, 1, 2} and task.chance < 0.45  # stratified: no dominant class


def test_quick_memorization_run_beats_chance_and_records_counts_and_load():
    metrics = run({"task": "phonebook", "n_entries": 64, "steps": 300, "n_experts": 4}, seed=0)
    assert metrics["accuracy"] > 0.5 > 100 * metrics["chance"]
    assert metrics["params_total"] > metrics["params_active"] > metrics["params_router"] > 0
    assert 0 < metrics["load_entropy"] <= 1 and 0.25 <= metrics["max_load_fraction"] <= 1
    assert 0 <= metrics["dropped_fraction_train"] < 1
    short = {"task": "phonebook", "n_entries": 64, "steps": 20, "n_experts": 4}
    first, second, other = run(short, seed=0), run(short, seed=0), run(short, seed=1)
    for result in (first, second, other):
        result.pop("train_seconds")
    assert first == second and first != other  # everything random derives from the seed


def test_sweep_analysis_tools_and_page_on_a_tiny_sweep():
    from discolab.agents.tools import call_tool
    from discolab.agents.tools import moe as _moe_tools  # noqa: F401  (registers the tools)
    from discolab.core.runs import RunsDB
    from discolab.experiments.moe_eval import EXPERIMENT, analyse, cells_table, configs, report, verdict
    from discolab.experiments.sweep import Sweep, run_sweep
    from streamlit.testing.v1 import AppTest

    tiny = [{**c, "steps": 3} for c in configs(quick=True)]
    outcome = run_sweep(Sweep(EXPERIMENT, run, tiny, [0, 1]), RunsDB(), progress=False)
    assert outcome.failed == 0 and outcome.done == len(tiny) * 2
    table = cells_table(RunsDB())
    summary = analyse(table)
    assert set(summary["family"]) == {"moe", "dense"} and (summary["seeds"] == 2).all()
    assert set(verdict(summary)["task"]) == {"phonebook", "shortest_path"}
    text = report(RunsDB())
    assert f"{len(tiny) * 2} trained models (2 seeds)" in text and "Gain from experts" in text
    assert text.rsplit("plot: ", 1)[1].strip().endswith("moe_accuracy.png")
    results = call_tool("moe_results", {})
    assert len(results["models"]) == len(tiny) and len(results["verdict"]) == 2
    trained = call_tool("moe_train", {"task": "shortest_path", "n_experts": 2, "steps": 10})
    assert trained["params_active"] < trained["params_total"] and 0 <= trained["accuracy"] <= 1

    app = AppTest.from_file(str(REPO / "ui" / "pages" / "moe.py"), default_timeout=120)
    app.run()
    assert not app.exception and not app.error
    assert len(app.dataframe) == 3 and any(s.value.startswith("Accuracy vs experts") for s in app.subheader)
    app.number_input(key="moe_steps").set_value(20)
    next(b for b in app.button if b.label == "Train").click().run()
    assert not app.exception and not app.error and app.metric[0].label == "test accuracy"


def test_train_command_prints_the_metrics_as_json(capsys):
    import argparse
    import json

    from discolab.experiments.moe_eval import add_train_arguments, train_command

    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--experts", "0", "--entries", "40", "--steps", "10", "--json"])
    assert train_command(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["config"]["n_experts"] is None and printed["params_active"] == printed["params_total"]
    assert printed["config"]["n_entries"] == 40 and 0 <= printed["accuracy"] <= 1


REPORTED_ACCURACY = {0: 0.66, 1: 0.94, 2: 0.99}  # per seed, as the fake cell below records it


def _recorded_cell(config: dict, seed: int) -> dict:
    """A stand-in for a trained graph cell: fixed metrics, so the report's figures are known exactly."""
    return {
        "accuracy": REPORTED_ACCURACY[seed],
        "train_loss": 0.4,
        "params_total": 1000 * config["d_model"],
        "params_active": 1000 * config["d_model"],
        "chance": 0.355,
        "train_seconds": 10.0 + seed,
        "accuracy_class_1": 1.0,
        "accuracy_class_2": 0.625,
        "accuracy_class_further": 0.5,
        "rejected_train_graphs": 20 + seed,
        "train_graphs_drawn": 40000,
    }


def _report_table(text: str, title: str) -> list[dict]:
    """The markdown table printed under ``title`` (its first words) in a report, as rows of strings."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    header, body = rows[0], rows[2:]
    return [dict(zip(header, row)) for row in body]


def test_report_prints_each_seed_the_per_class_accuracies_and_the_dropped_training_graphs():
    from discolab.core.runs import RunsDB
    from discolab.experiments.moe_eval import long_configs, report
    from discolab.experiments.sweep import Sweep, run_sweep

    name, keys = "moe-report-figures", ["task", "d_model", "n_experts"]
    plan = Sweep(name, _recorded_cell, long_configs(steps=3), [0, 1, 2], setting_keys=keys)
    assert run_sweep(plan, RunsDB(), progress=False).done == 12
    text = report(RunsDB(), name)
    models = _report_table(text, "Accuracy per model")
    assert len(models) == 4
    for row in models:
        assert row["accuracy_per_seed"] == "0.660, 0.940, 0.990"  # each seed's accuracy, in seed order
        assert (row["accuracy"], row["accuracy_std"], row["train_seconds"]) == ("0.8633", "0.1779", "11")
    classes = _report_table(text, "Accuracy per answer class")
    assert [(r["family"], r["n_experts"], r["params_total"]) for r in classes] == [
        ("dense", "nan", "32000"),
        ("dense", "nan", "64000"),
        ("moe", "1", "32000"),
        ("moe", "16", "32000"),
    ]
    per_class = [(r["accuracy_class_1"], r["accuracy_class_2"], r["accuracy_class_further"]) for r in classes]
    assert per_class == [("1", "0.625", "0.5")] * 4
    dropped = _report_table(text, "Training graphs dropped")
    assert [(r["seed"], r["cells"], r["rejected_train_graphs"], r["train_graphs_drawn"]) for r in dropped] == [
        (str(seed), "4", str(20 + seed), "40000") for seed in range(3)
    ]
    assert [float(r["rejected_fraction"]) for r in dropped] == [(20 + seed) / 40000 for seed in range(3)]


def test_a_graph_cell_records_its_draws_and_per_class_accuracy():
    metrics = run({"task": "shortest_path", "steps": 3, "batch_size": 16, "n_test": 50, "d_model": 16, "n_heads": 2}, 0)
    assert metrics["train_graphs_drawn"] == 3 * 16 >= metrics["rejected_train_graphs"] >= 0
    assert {"accuracy_class_1", "accuracy_class_2", "accuracy_class_further"} <= set(metrics)


def test_the_reasoning_pilot_takes_its_budget_and_learning_rate_and_keeps_the_recorded_default():
    from discolab.experiments import moe_eval

    default = moe_eval.reasoning_pilot_configs()
    assert {(c["steps"], c["lr"]) for c in default} == {(moe_eval.PILOT_STEPS, moe_eval.TRAINING["lr"])}
    longer = moe_eval.reasoning_pilot_configs(20000, 1e-3)
    assert len(longer) == len(default) == len(moe_eval.PILOT_DEPTHS) * len(moe_eval.PILOT_WIDTHS)
    assert all(c["steps"] == 20000 and c["lr"] == 1e-3 and c["n_experts"] is None for c in longer)
    assert [(c["n_layers"], c["d_model"]) for c in longer] == [(c["n_layers"], c["d_model"]) for c in default]
    labels = moe_eval.reasoning_pilot_configs(3000, 1e-3, (2, 4), (64,), "labels")
    assert [(c["n_layers"], c["d_model"], c["edge_tokens"]) for c in labels] == [(2, 64, "labels"), (4, 64, "labels")]
    task_keys = [*moe_eval.TASK_SETTINGS["shortest_path"], "edge_tokens"]
    assert make_task("shortest_path", **{k: labels[0][k] for k in task_keys}).width == 2
    with_experts = moe_eval.reasoning_pilot_configs(20000, 1e-3, (2,), (32, 64), experts=(4, 16))
    assert [(c["d_model"], c["n_experts"]) for c in with_experts] == [
        (32, None), (32, 4), (32, 16), (64, None), (64, 4), (64, 16)
    ]  # fmt: skip
    assert all(c[k] == v for c in with_experts if c["n_experts"] for k, v in moe_eval.MOE.items())
    assert with_experts[0] == longer[0] | {"n_layers": 2, "d_model": 32}  # a dense cell is the dense pilot's cell


def test_the_reasoning_pilot_table_shows_each_seeds_train_loss_per_budget(tmp_path):
    from discolab.core.runs import RunsDB
    from discolab.experiments import moe_eval

    db = RunsDB(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    keys = moe_eval.PILOT_KEYS
    legacy = [k for k in keys if k != "n_experts"]  # rows recorded before MoE pilots lack the key
    configs = moe_eval.reasoning_pilot_configs()[:1] + moe_eval.reasoning_pilot_configs(20000, 1e-3, experts=(4,))[:2]
    for index, config in enumerate(configs):
        for seed, loss in ((0, 0.4), (1, 0.9)):
            metrics = {"accuracy": 0.7 + seed / 10, "accuracy_class_2": 0.6, "train_loss": loss, "test_loss": loss}
            metrics |= {"params_total": 1000, "train_seconds": 1.0}
            setting = {k: config[k] for k in (legacy if index == 0 else keys)}
            db.record(moe_eval.PILOT_REASONING, config, seed, metrics, setting=setting)
    table = moe_eval.reasoning_pilot_table(db)
    assert "('pair', 6000, 0.003, 2, 64, 0)" in table and "('pair', 20000, 0.001, 2, 64, 0)" in table
    assert "('pair', 20000, 0.001, 2, 64, 4)" in table  # the MoE cell is a row of its own
    assert table.count("0.400, 0.900") == 3 and table.count("0.700, 0.800") == 3 and "test_loss" in table


def test_experts_vs_width_sets_each_moe_against_dense_models_of_its_schedule_at_its_width_and_wider():
    import pandas as pd
    from discolab.experiments import moe_eval

    def cells(width, experts, accuracies, steps=20000, params=1000):
        return [
            {"edge_tokens": "pair", "steps": steps, "lr": 1e-3, "n_layers": 2, "d_model": width}
            | {"n_experts": experts, "seed": seed, "accuracy": a, "params_total": params}
            for seed, a in enumerate(accuracies)
        ]

    table = pd.DataFrame(
        cells(32, 4, [0.70, 0.71, 0.72], params=5000)
        + cells(32, 0, [0.80, 0.81, 0.82])
        + cells(64, 0, [0.90, 0.91, 0.92])
        + cells(16, 0, [0.1, 0.1, 0.1])  # narrower than the MoE: not a comparison
        + cells(64, 0, [0.5, 0.5, 0.5], steps=3000)  # another schedule: not a comparison
    )
    out = moe_eval.experts_vs_width(table)
    assert list(out["dense width"]) == [32, 64] and set(out["MoE"]) == {"4 x 32"}
    assert out["MoE - dense"].round(6).tolist() == [-0.1, -0.2] and list(out["pairs MoE wins"]) == ["0 / 9"] * 2
    assert out["permutation p"].round(6).tolist() == [0.1, 0.1]  # 3 seeds against 3, fully separated: 2 of 20 splits
    assert out["MoE params"].tolist() == [5000, 5000] and out["seeds"].tolist() == ["3 / 3"] * 2
