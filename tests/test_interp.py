"""Interpolation between LoRA anchors: the exact combined update, the scorers, and a quick
trained run whose sentiment responds to its slider."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from discolab.core.interp import ATTRIBUTES, coefficients
from discolab.core.interp.scorers import held_out_accuracy, score


def test_coefficients_put_lambda_on_the_simplex_and_alpha_on_the_poles():
    c = coefficients({"sentiment": 2.0}, {"sentiment": 1.0, "formality": 1.0})
    assert c["sentiment-positive"] == pytest.approx(1.0) and c["sentiment-negative"] == pytest.approx(-0.5)
    assert c["formality-formal"] == pytest.approx(0.25) and c["formality-informal"] == pytest.approx(0.25)
    assert c["simplicity-simple"] == 0.0 and c["simplicity-complex"] == 0.0
    assert sum(c.values()) == pytest.approx(1.0)  # the poles' multipliers of each attribute sum to lambda_i
    with pytest.raises(ValueError, match="non-negative"):
        coefficients({}, {"sentiment": -1.0})
    with pytest.raises(ValueError, match="unknown attribute"):
        coefficients({"humour": 1.0}, {"sentiment": 1.0})


@pytest.fixture(scope="module")
def sliders(random_anchors):
    from discolab.core.interp.interpolate import SliderModel

    return SliderModel(random_anchors)


def _logits(model):
    ids = torch.tensor([[1, 504, 3267, 1767, 314]])
    with torch.no_grad():
        return model(input_ids=ids).logits[0, -1]


@pytest.mark.parametrize("alpha,pole", [(1.0, "sentiment-positive"), (0.0, "sentiment-negative")])
def test_alpha_at_a_pole_equals_that_pole_adapter_alone(sliders, random_anchors, alpha, pole):
    from discolab.core.llm.models import load_model
    from peft import PeftModel

    sliders.set({"sentiment": alpha}, {"sentiment": 1.0})
    single = PeftModel.from_pretrained(load_model.__wrapped__("smollm2", "float32")[0], random_anchors / pole).eval()
    torch.testing.assert_close(_logits(sliders.model), _logits(single), rtol=0, atol=1e-4)
    base = _logits(load_model("smollm2", "float32")[0])
    assert (_logits(single) - base).abs().max() > 1e-2  # the adapter does change the model


def test_each_layer_applies_the_weighted_sum_of_the_pole_deltas(sliders):
    multipliers = sliders.set(
        {"sentiment": 1.7, "formality": -0.4, "simplicity": 0.3}, {"sentiment": 2, "formality": 1, "simplicity": 1}
    )
    layer = sliders.lora_layers()[3]
    x = torch.randn(2, 5, layer.in_features, generator=torch.Generator().manual_seed(0))
    delta = sum(
        c * (layer.lora_B[n].weight @ layer.lora_A[n].weight) * (layer.lora_alpha[n] / layer.r[n])
        for n, c in multipliers.items()
    )
    with torch.no_grad():
        torch.testing.assert_close(layer(x), layer.base_layer(x) + x @ delta.T, rtol=1e-5, atol=1e-5)
    assert multipliers["sentiment-positive"] == pytest.approx(0.5 * 1.7)


def test_sliders_name_untrained_attributes(random_anchors):
    from discolab.core.interp.interpolate import SliderModel

    partial = SliderModel(random_anchors, attributes=("sentiment",))
    with pytest.raises(ValueError, match="no adapters for \\['formality'\\]"):
        partial.set({"formality": 1.0})


def test_scorers_are_oriented_and_accurate_on_held_out_sentences():
    accuracy = held_out_accuracy()
    assert set(accuracy) == {
        "sentiment/vader",
        "sentiment/minilm",
        "formality/lexicon",
        "formality/minilm",
        "simplicity/flesch",
        "simplicity/minilm",
    }
    # the evaluation sentences come in topic-matched pairs, some only mildly polar: well above chance
    assert min(accuracy.values()) >= 0.7 and accuracy["simplicity/flesch"] >= 0.9
    for attribute, high, low in [
        ("sentiment", "What a lovely, happy day!", "This is awful and I hate it."),
        ("formality", "We hereby acknowledge receipt of your correspondence.", "hey lol gonna be late, sorry!!"),
        ("simplicity", "The dog ran home.", "Institutional considerations necessitated comprehensive reorganisation."),
    ]:
        for scorer in ("vader", "lexicon", "flesch", "minilm"):
            try:
                high_score, low_score = score([high, low], attribute, scorer)
            except ValueError:
                continue  # not a scorer of this attribute
            assert high_score > low_score, (attribute, scorer)


def test_a_quick_trained_sentiment_slider_moves_sentiment(tmp_path, monkeypatch):
    """End to end, small: build the two sentiment corpora, train both adapters, and generate at
    alpha = -1 and 2 on held-out topics; VADER's mean must rise."""
    from discolab.core.interp.anchors import TEST_TOPICS, AnchorConfig, train_anchors
    from discolab.core.interp.interpolate import SliderModel, topic_prompt

    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path))
    messages = []
    folder = train_anchors(0, AnchorConfig(topics=6, samples_per_topic=2, epochs=3), ("sentiment",), messages.append)
    assert any("kept" in m for m in messages) and (folder / "anchors.json").is_file()
    assert train_anchors(0, AnchorConfig(topics=6, samples_per_topic=2, epochs=3), ("sentiment",)) == folder  # cached
    model = SliderModel(folder)
    prompts = [topic_prompt(t) for t in TEST_TOPICS[:4]]
    means = {}
    for alpha in (-1.0, 2.0):
        model.set({"sentiment": alpha}, {"sentiment": 1.0})
        means[alpha] = float(np.mean(score(model.generate(prompts, max_new_tokens=30), "sentiment", "vader")))
    assert means[2.0] > means[-1.0] + 0.2, means


def test_an_interrupted_anchor_training_keeps_the_poles_it_finished(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from discolab.core.interp import anchors
    from discolab.core.llm import models

    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path))
    base = SimpleNamespace(eval=lambda: None)
    monkeypatch.setattr(models, "load_model", SimpleNamespace(__wrapped__=lambda *a: (base, None)))
    monkeypatch.setattr(anchors, "build_corpus", lambda *a: {"kept": 1, "generated": 2, "examples": [{}]})
    trained = []

    def train_adapter(base, tokenizer, examples, config, seed, out, progress=None):
        if out.name == "sentiment-negative" and "interrupted" not in trained:
            trained.append("interrupted")
            raise RuntimeError("killed mid-training")
        out.mkdir()
        trained.append(out.name)
        return {"losses": [2.0, 1.0]}

    monkeypatch.setattr(anchors, "train_adapter", train_adapter)
    with pytest.raises(RuntimeError, match="killed"):
        anchors.train_anchors(0, attributes=("sentiment",))
    messages = []
    folder = anchors.train_anchors(0, attributes=("sentiment",), progress=messages.append)
    assert trained == ["sentiment-positive", "interrupted", "sentiment-negative"]  # the first pole not retrained
    assert "sentiment-positive: trained before the interruption; kept" in messages
    assert (folder / "anchors.json").is_file() and not (folder / "anchors.partial.json").exists()
    manifest = json.loads((folder / "anchors.json").read_text())
    assert set(manifest["poles"]) == {"sentiment-positive", "sentiment-negative"}


def test_cli_and_tool_steer_with_sliders_and_name_problems(random_anchors, discolab_home, capsys):
    import json
    import shutil

    from discolab.agents.tools import call_tool
    from discolab.agents.tools.registry import ToolError
    from discolab.ui.cli import main

    assert main(["interp", "generate", "--prompt", "Hi", "--anchors-seed", "9"]) == 2
    assert "discolab interp train --seed 9" in capsys.readouterr().err
    folder = discolab_home / "interp" / "seed-9"
    shutil.copytree(random_anchors, folder)
    (folder / "anchors.json").write_text("{}")
    args = ["interp", "generate", "--prompt", "Hi", "--anchors-seed", "9", "--max-tokens", "6", "--json"]
    assert main([*args, "--alpha", "sentiment=1.5", "--lambda", "sentiment=1", "--seed", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["multipliers"]["sentiment-positive"] == pytest.approx(1.5) and result["seed"] == 2
    assert set(result["scores"]) >= {"sentiment/vader", "formality/lexicon", "simplicity/flesch"}
    assert main([*args, "--alpha", "sentiment=high"]) == 2
    assert "write ATTRIBUTE=NUMBER" in capsys.readouterr().err
    with pytest.raises(ToolError, match="no trained anchors"):
        call_tool("interp_generate", {"prompt": "Hi", "alphas": {"sentiment": 1.0}, "max_new_tokens": 4})


def test_response_analysis_finds_monotone_linear_curves_and_the_entanglement():
    from discolab.core.interp.scorers import SCORERS
    from discolab.experiments.interp_eval import ALPHAS, analyse

    rng = np.random.default_rng(0)
    rows = []
    for attribute in ATTRIBUTES:
        for alpha in ALPHAS:
            for seed in range(3):
                row = {"attribute": attribute, "alpha": alpha, "seed": seed}
                for a in ATTRIBUTES:
                    for s in SCORERS[a]:
                        effect = (
                            1.0 if a == attribute else (0.3 if (attribute, a) == ("formality", "simplicity") else 0.0)
                        )
                        row[f"{a}/{s}"] = effect * alpha + 0.05 * rng.standard_normal()
                rows.append(row)
    means, shape, entanglement = analyse(pd.DataFrame(rows))
    own = shape[shape["own"]]
    assert (own["spearman_rho"] > 0.95).all() and (own["r2_linear"] > 0.95).all()
    assert entanglement.loc["sentiment", "sentiment/vader"] > 5 * abs(
        entanglement.loc["sentiment", "formality/lexicon"]
    )
    assert entanglement.loc["formality", "simplicity/flesch"] > 0.2
    assert means.shape == (3 * len(ALPHAS), 6)


def test_the_independent_scorer_shares_no_sentence_with_the_filter_and_is_accurate():
    from discolab.core.interp.scorers import EVAL_TRAIN_PER_POLE, labelled, split

    for attribute, poles in ATTRIBUTES.items():
        filter_sentences = {t for pole in poles for t in labelled()[attribute][pole]}
        evaluation = labelled("labelled_eval")[attribute]
        assert all(len(evaluation[pole]) >= 100 for pole in poles)
        assert not filter_sentences & {t for pole in poles for t in evaluation[pole]}
        train, _, test, test_y = split(attribute, evaluation=True)
        assert len(train) == 2 * EVAL_TRAIN_PER_POLE and not set(train) & set(test) and test_y.sum() == len(test) / 2
    assert held_out_accuracy()["formality/minilm"] >= 0.85


def test_the_evaluation_cells_score_sliders_the_instructed_base_model_and_fluency(
    random_anchors, discolab_home, request
):
    import shutil

    from discolab.core.runs import RunsDB
    from discolab.experiments import interp_eval
    from discolab.experiments.sweep import Sweep, run_sweep

    # a seed of its own, removed at the end: the data home is shared by the whole session, and the
    # dashboard's test expects seed 7 to have no anchors
    folder = discolab_home / "interp" / "seed-57"
    shutil.copytree(random_anchors, folder, dirs_exist_ok=True)
    (folder / "anchors.json").write_text("{}")
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    plan = interp_eval.configs([57], max_new_tokens=5)
    studies = {c["study"] for c in plan}
    assert studies == {"alpha", "lambda", "instruct"} and len(plan) == 3 * (7 + 4 + 2) + 1
    tiny = [c for c in plan if c["attribute"] in ("sentiment", "none") and c.get("alpha", 2.0) in (-1.0, 2.0)]
    tiny = [c for c in tiny if c["study"] != "lambda" or c["lambda"] in (0.1, 1.0)]
    db = RunsDB()
    outcome = run_sweep(Sweep(interp_eval.EXPERIMENT, interp_eval.response_cell, tiny, [0]), db, progress=False)
    assert outcome.failed == 0, outcome.errors
    wide = db.wide(interp_eval.EXPERIMENT)
    assert (wide["perplexity"] > 1).all() and len(wide) == len(tiny) * 6
    alphas, lambdas = interp_eval.cell_sliders({"study": "lambda", "attribute": "sentiment", "lambda": 0.1})
    assert alphas["sentiment"] == 1.0 and lambdas["formality"] == pytest.approx(0.45)
    text = interp_eval.report(db)
    assert "instruct negative" in text and "slider alpha 2" in text and "perplexity" in text
    assert "held-out evaluation sentences" in text and "| sentiment   |      0.1 |" in text
