"""S2T2's data and target tokenizer: the offline proteins, the split, the BPE's compression."""

import json

import pandas as pd
import pytest
from discolab.core.s2t2.data import protein_sequences, split_sequences
from discolab.core.s2t2.tokenizer import characters_per_token, train_protein_bpe

RESIDUES = set("ACDEFGHIKLMNPQRSTVWYXBZUO")


@pytest.fixture(scope="module")
def proteins():
    return protein_sequences()


def test_protein_sequences_are_unique_clean_and_real(proteins):
    assert len(proteins) > 500 and len(proteins) == len(set(proteins))
    assert all(set(s) <= RESIDUES for s in proteins)  # no stop codons, no lowercase, no gaps
    assert all(s.count("X") <= len(s) / 2 for s in proteins)  # the long run of X is gone
    assert sum(len(s) for s in proteins) > 100_000


def test_split_is_by_sequence_seeded_and_complete(proteins):
    parts = split_sequences(proteins, seed=3)
    assert parts == split_sequences(proteins, seed=3) and parts != split_sequences(proteins, seed=4)
    sets = [set(v) for v in parts.values()]
    assert sum(len(s) for s in sets) == len(proteins) and set().union(*sets) == set(proteins)
    assert abs(len(parts["train"]) / len(proteins) - 0.8) < 0.01
    with pytest.raises(ValueError, match="summing to 1"):
        split_sequences(proteins, fractions=(0.5, 0.5, 0.5))


def test_protein_bpe_round_trips_and_compresses_better_than_the_text_tokenizer(proteins, local_fp32):
    parts = split_sequences(proteins)
    tokenizer = train_protein_bpe(parts["train"], vocab_size=512)
    assert tokenizer.get_vocab_size() <= 512 and tokenizer.token_to_id("<eos>") is not None
    held_out = parts["test"][:20]
    for sequence in held_out:
        assert tokenizer.decode(tokenizer.encode(sequence, add_special_tokens=False).ids) == sequence
    _, smollm = local_fp32._lm
    smollm_ids = sum(len(smollm(s, add_special_tokens=False)["input_ids"]) for s in parts["test"])
    smollm_chars_per_token = sum(len(s) for s in parts["test"]) / smollm_ids
    assert characters_per_token(tokenizer, parts["test"]) > smollm_chars_per_token  # measured 1.83 vs 1.61
    with pytest.raises(ValueError, match="no training sequences"):
        train_protein_bpe([], 64)


# --- the sparse plan ---------------------------------------------------------------------------

import math  # noqa: E402
from dataclasses import replace  # noqa: E402

import torch  # noqa: E402
from discolab.core.s2t2.plan import (  # noqa: E402
    SparsePlan,
    column_masses,
    nonzeros_per_row,
    simplex_threshold,
    sparse_plan,
)
from discolab.core.s2t2.train import bits_per_character, windows  # noqa: E402


def test_projected_plan_rows_are_distributions_and_sparse():
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(40, 300, generator=generator, dtype=torch.float64)
    mass = column_masses(torch.randint(1, 50, (300,), generator=generator), targets=40).double()
    assert math.isclose(mass.sum().item(), 40, rel_tol=1e-5)
    for iterations in (0, 3, 10):
        plan = sparse_plan(scores, mass, iterations)
        assert (plan >= 0).all()
        torch.testing.assert_close(plan.sum(1), torch.ones(40, dtype=torch.float64))
        assert nonzeros_per_row(plan).max() <= 15  # of 300 sources (measured 7 to 14): a softmax plan uses all 300
    plan = sparse_plan(scores, mass, 100)
    torch.testing.assert_close(plan.sum(0), mass, atol=1e-4, rtol=0)  # the column masses hold at convergence


def test_plan_converges_to_pots_exact_quadratically_regularised_transport():
    ot = pytest.importorskip("ot")
    generator = torch.Generator().manual_seed(3)
    scores = torch.randn(30, 50, generator=generator, dtype=torch.float64)
    mass = column_masses(torch.randint(1, 9, (50,), generator=generator), targets=30).double()
    exact = ot.smooth.smooth_ot_dual(
        torch.ones(30).numpy(), mass.numpy(), -scores.numpy(), 1.0, reg_type="l2", stopThr=1e-12, numItermax=5000
    )
    errors = [(sparse_plan(scores, mass, n).numpy() - exact).__abs__().max() for n in (1, 10, 200)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-4


def test_simplex_threshold_projects_onto_the_scaled_simplex():
    x = torch.tensor([[0.5, 0.2, -1.0], [3.0, 3.0, 3.0]])
    projected = torch.relu(x - simplex_threshold(x, 2.0, dim=1))
    torch.testing.assert_close(projected, torch.tensor([[1.15, 0.85, 0.0], [2 / 3, 2 / 3, 2 / 3]]))


def test_plan_is_differentiable_and_starts_uniform_and_dense():
    plan = SparsePlan(8, column_masses(torch.ones(20), 8), iterations=3, seed=1)
    p = plan()
    assert nonzeros_per_row(p).min() == 20  # small noise: every source still in every row
    (p * torch.randn(8, 20, generator=torch.Generator().manual_seed(2))).sum().backward()
    assert plan.scores.grad is not None and plan.scores.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="column_mass"):
        sparse_plan(torch.zeros(3, 4), torch.ones(5))
    with pytest.raises(ValueError, match="positive count"):
        column_masses(torch.tensor([1, 0, 2]), 3)


# --- bits per character: one routine, any tokenizer --------------------------------------------


class TableLM(torch.nn.Module):
    """A hand-made LM: a fixed tokenizer (greedy longest match over ``vocab``) and fixed next-token
    probabilities ``probs`` (independent of context), start token = one extra id."""

    def __init__(self, vocab: list[str], probs: list[float]):
        super().__init__()
        self.vocab, self.start_id = vocab, len(vocab)
        self.log_probs = torch.log(torch.tensor([*probs, 1e-9]))

    def encode(self, text: str) -> list[int]:
        ids, i = [], 0
        while i < len(text):
            token = max((t for t in self.vocab if text.startswith(t, i)), key=len)
            ids.append(self.vocab.index(token))
            i += len(token)
        return ids

    def decode(self, ids: list[int]) -> str:
        return "".join(self.vocab[i] for i in ids)

    def forward(self, ids, mask):
        return self.log_probs.expand(*ids.shape, -1)


def test_bits_per_character_is_the_same_quantity_for_every_tokenizer():
    texts = ["ABAB", "AB"]  # 6 characters
    characters = TableLM(["A", "B"], [0.5, 0.5])
    pairs = TableLM(["AA", "AB", "BA", "BB"], [0.25, 0.25, 0.25, 0.25])
    assert bits_per_character(characters, texts) == pytest.approx(1.0)  # 6 tokens x 1 bit / 6
    assert bits_per_character(pairs, texts) == pytest.approx(1.0)  # 3 tokens x 2 bits / 6
    skewed = TableLM(["A", "B", "AB"], [0.6, 0.3, 0.1])
    # "ABAB" -> AB AB, "AB" -> AB: three tokens of p = 0.1 over six characters
    assert bits_per_character(skewed, texts, batch_size=1) == pytest.approx(3 * -math.log2(0.1) / 6)
    assert windows(["ABCDE"], 2) == ["AB", "CD", "E"]


# --- a quick run learns -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_body():
    """The embedded model's body (frozen, float32) and its tokenizer."""
    from discolab.core.s2t2.model import load_body

    return load_body(None, seed=0)


@pytest.fixture(scope="module")
def tiny_s2t2(source_body):
    """S2T2 on the frozen embedded model with a 40-token protein BPE (seconds, not minutes)."""
    from discolab.core.s2t2.model import S2T2LM

    parts = split_sequences(protein_sequences())
    body, source_tokenizer = source_body
    tokenizer = train_protein_bpe(parts["train"][:50], 40)
    model = S2T2LM(body, tokenizer, source_tokenizer, parts["train"][:50], seed=0, iterations=5)
    return model, windows(parts["train"][:2], 48)[:4]


def test_a_quick_s2t2_run_learns_only_the_plan(tiny_s2t2):
    from discolab.core.s2t2.train import fit

    model, texts = tiny_s2t2
    body_before = model.causal_lm.get_input_embeddings().weight.clone()
    losses = fit(
        model, texts, residues=48 * 4 * 8, learning_rate=1e-3, plan_learning_rate=3e-2, batch_size=4, bf16=False
    )
    assert len(losses) == 8
    assert sum(losses[-2:]) / 2 < losses[0] - 0.3  # bits per residue fall on the windows it trains on
    assert torch.equal(model.causal_lm.get_input_embeddings().weight, body_before)  # the body stays frozen
    plan = model.plan().detach()
    torch.testing.assert_close(plan.sum(1), torch.ones(plan.shape[0]))
    assert nonzeros_per_row(plan).float().median() < plan.shape[1] / 2  # learning made the uniform start sparse


def test_saved_plan_round_trips_and_maps_tokens(tiny_s2t2, tmp_path):
    from discolab.core.s2t2.conditions import S2T2Config, load_plan, plan_mapping, save_plan

    model, _ = tiny_s2t2
    path = save_plan(model, S2T2Config(vocab_size=40), seed=0, metrics={"test_bpc": 4.2}, folder=tmp_path)
    payload = load_plan(path)
    torch.testing.assert_close(payload["plan"], model.plan().detach())
    assert payload["seed"] == 0 and payload["config"]["vocab_size"] == 40 and payload["metrics"]["test_bpc"] == 4.2
    (row,) = plan_mapping(payload, ["A"])
    assert row["target"] == "A" and 0 < len(row["sources"]) <= 5 and row["nonzeros"] >= len(row["sources"])
    with pytest.raises(ValueError, match="not in the protein vocabulary"):
        plan_mapping(payload, ["not-a-token"])
    (tmp_path / "broken.pt").write_bytes(b"not a plan")
    with pytest.raises(ValueError, match="not a readable S2T2 plan"):
        load_plan(tmp_path / "broken.pt")


# --- the unigram baseline, the evaluation split, budgets ---------------------------------------

from discolab.core.s2t2.train import bigram_bits_per_residue, unigram_bits_per_residue  # noqa: E402


def test_unigram_baseline_is_the_add_one_smoothed_training_frequencies(proteins):
    # training counts A 2, B 1 over the alphabet {A, B}: p(A) = 3/5, p(B) = 2/5; evaluated A A B
    expected = -(2 * math.log2(3 / 5) + math.log2(2 / 5)) / 3
    assert unigram_bits_per_residue(["AAB"], ["AB", "A"]) == pytest.approx(expected)
    with pytest.raises(ValueError, match="not in the training alphabet: C"):
        unigram_bits_per_residue(["AB"], ["AC"])
    parts = split_sequences(proteins)
    assert unigram_bits_per_residue(parts["train"], parts["test"]) == pytest.approx(4.181, abs=5e-4)  # docs/s2t2.md


def test_the_bigram_baseline_uses_one_residue_of_context_and_tends_to_the_unigram(proteins):
    # "AB" always follows "A" in training: the bigram codes "AB" in fewer bits than the unigram
    assert bigram_bits_per_residue(["ABAB"], ["AB"], 0.1) < unigram_bits_per_residue(["ABAB"], ["AB"])
    p = {"A": 3 / 6, "B": 3 / 6}  # add-one unigram of "ABAB"
    expected = -(math.log2(p["A"]) + math.log2((2 + 1.0 * p["B"]) / (2 + 1.0))) / 2
    assert bigram_bits_per_residue(["ABAB"], ["AB"], 1.0) == pytest.approx(expected)
    assert bigram_bits_per_residue(["ABAB"], ["AB"], 1e9) == pytest.approx(unigram_bits_per_residue(["ABAB"], ["AB"]))
    with pytest.raises(ValueError, match="prior strength"):
        bigram_bits_per_residue(["AB"], ["AB"], 0)
    with pytest.raises(ValueError, match="alphabet"):
        bigram_bits_per_residue(["AB"], ["AC"], 1.0)
    parts = split_sequences(proteins, seed=0)
    assert bigram_bits_per_residue(parts["train"], parts["validation"], 10.0) < unigram_bits_per_residue(
        parts["train"], parts["validation"]
    )  # real proteins: one residue of context helps a little


class ResidueCountsLM(torch.nn.Module):
    """A trainable unigram LM over the residue letters (one learned logit per letter, no context):
    train_condition's bookkeeping in milliseconds."""

    letters = "ACDEFGHIKLMNPQRSTVWXY"

    def __init__(self):
        super().__init__()
        self.start_id = len(self.letters)
        self.logits = torch.nn.Parameter(torch.zeros(len(self.letters) + 1))

    def encode(self, text: str) -> list[int]:
        return [self.letters.index(c) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.letters[i] for i in ids)

    def forward(self, ids, mask):
        return self.logits.float().log_softmax(-1).expand(*ids.shape, -1)


@pytest.fixture
def counts_conditions(monkeypatch):
    """conditions.train_condition on :class:`ResidueCountsLM`, whatever the condition, recording the
    windows each bits-per-character call scores."""
    from discolab.core.s2t2 import conditions

    scored = []

    def recording_bits_per_character(model, texts):
        scored.append(list(texts))
        return bits_per_character(model, texts)

    monkeypatch.setattr(conditions, "build_model", lambda condition, config, seed: ResidueCountsLM())
    monkeypatch.setattr(conditions, "tokenizer_compression", lambda model, sequences: 1.0)
    monkeypatch.setattr(conditions, "bits_per_character", recording_bits_per_character)
    return conditions, scored


def test_validation_scoring_uses_the_validation_windows_only(counts_conditions):
    conditions, scored = counts_conditions
    config = conditions.S2T2Config(eval_split="validation", residues=2000)
    _, metrics = conditions.train_condition("source-finetune", config, seed=0, budgets=[1000])
    windows_of = conditions.prepared_data(config.vocab_size, config.window, config.split_seed)["windows"]
    assert len(scored) == 2 and all(texts == windows_of["validation"] for texts in scored)  # budget 1000, then the end
    assert windows_of["validation"] != windows_of["test"]
    assert "validation_bpc" in metrics and "test_bpc" not in metrics
    assert set(metrics["validation_bpc_by_budget"]) == {1000, 2000}
    with pytest.raises(ValueError, match="eval_split must be one of validation, test"):
        conditions.S2T2Config(eval_split="train")


def test_one_run_scores_each_budget_as_a_run_of_that_budget_would(counts_conditions):
    conditions, _ = counts_conditions
    config = conditions.S2T2Config(eval_split="validation", residues=6000, learning_rate=0.05)
    _, long_run = conditions.train_condition("source-finetune", config, seed=1, budgets=[2000])
    _, short_run = conditions.train_condition("source-finetune", replace(config, residues=2000), seed=1)
    curve = long_run["validation_bpc_by_budget"]
    assert curve[2000] == pytest.approx(short_run["validation_bpc"], abs=1e-9)
    assert curve[6000] == long_run["validation_bpc"] < curve[2000]  # it goes on learning
    with pytest.raises(ValueError, match="go past"):
        conditions.train_condition("source-finetune", config, seed=1, budgets=[7000])


# --- the conditions: joint S2T2, the renormalised source head ------------------------------------


def test_joint_s2t2_learns_the_plan_and_lora_from_the_first_step():
    from discolab.core.s2t2.conditions import S2T2Config, build_model
    from discolab.core.s2t2.train import fit

    config = S2T2Config(vocab_size=40)
    joint = build_model("s2t2", config, seed=0)
    before = {n: p.detach().clone() for n, p in joint.named_parameters() if p.requires_grad}
    lora_b = [n for n in before if "lora_B" in n]
    assert "plan.scores" in before and len(lora_b) == 7 * 30  # every projection of the 30 layers
    assert all(n == "plan.scores" or "lora_" in n for n in before)  # the body itself stays frozen
    text = windows(split_sequences(protein_sequences())["train"][:1], 48)[:1]
    fit(joint, text, residues=1, learning_rate=1e-3, plan_learning_rate=1e-2, batch_size=1, bf16=False)
    moved = {n for n, p in joint.named_parameters() if p.requires_grad and not torch.equal(p, before[n])}
    assert "plan.scores" in moved and set(lora_b) <= moved  # one step moved P and every LoRA (B starts at 0)
    del joint
    frozen = build_model("s2t2-frozen", config, seed=0)
    assert [n for n, p in frozen.named_parameters() if p.requires_grad] == ["plan.scores"]


def test_the_residue_token_head_renormalises_over_the_residue_tokens(source_body, proteins):
    from discolab.core.s2t2.model import SourceTokenLM, residue_token_ids, source_vocabulary
    from discolab.core.s2t2.train import encode_windows

    causal_lm, tokenizer = source_body
    parts = split_sequences(proteins)
    residue_ids = residue_token_ids(tokenizer, parts["train"])
    seen, _ = source_vocabulary(tokenizer, parts["train"])
    held_out, _ = source_vocabulary(tokenizer, parts["validation"] + parts["test"])
    residue_set = set(residue_ids.tolist())
    assert set(seen.tolist()) < residue_set and len(residue_set) < 1000  # measured 615 within 755 of 49,152
    assert set(held_out.tolist()) <= residue_set and not set(held_out.tolist()) <= set(seen.tolist())
    full, renormalised = SourceTokenLM(causal_lm, tokenizer), SourceTokenLM(causal_lm, tokenizer, residue_ids)
    texts = [parts["test"][0][:40], parts["test"][1][:25]]
    ids, mask = encode_windows(renormalised, texts)
    with torch.no_grad():
        full_log_probs, log_probs = full(ids, mask), renormalised(ids, mask)
    probabilities = log_probs.exp()
    torch.testing.assert_close(probabilities[..., residue_ids].sum(-1), torch.ones(ids.shape))
    outside = torch.ones(probabilities.shape[-1], dtype=torch.bool)
    outside[residue_ids] = False
    assert probabilities[..., outside].sum(-1).max() < 1e-20
    # the full distribution conditioned on the residue tokens: log q(s) - log q(R)
    inside = full_log_probs[..., residue_ids]
    torch.testing.assert_close(log_probs[..., residue_ids], inside - inside.logsumexp(-1, keepdim=True))
    assert bits_per_character(renormalised, texts) < bits_per_character(full, texts)


def test_a_full_head_run_is_also_scored_under_the_residue_token_head(source_body, monkeypatch):
    from discolab.core.s2t2 import conditions
    from discolab.core.s2t2.model import SourceTokenLM

    causal_lm, tokenizer = source_body
    model = SourceTokenLM(causal_lm, tokenizer)
    monkeypatch.setattr(conditions, "build_model", lambda condition, config, seed: model)
    monkeypatch.setattr(conditions, "bits_per_character", lambda m, texts: bits_per_character(m, texts[:2]))
    monkeypatch.setattr(conditions, "tokenizer_compression", lambda m, sequences: 1.0)
    _, metrics = conditions.train_condition("zero-shot", conditions.S2T2Config(), seed=0)
    assert metrics["test_bpc_residue_head"] < metrics["test_bpc"]  # renormalising can only raise p(residues)
    assert model.vocabulary is None  # the model is left with the head it was trained with


# --- the evaluation command: selection on validation, the comparison on test --------------------


def fake_validation_bpc(config: dict, residues: int, epoch: int) -> float:
    """Lowest at learning rate 1e-3 and P's 1e-2, batch 4 for source-finetune and 1 for S2T2;
    source-finetune overfits, S2T2 improves with budget."""
    setting = abs(math.log10(config["learning_rate"]) + 3) + abs(math.log10(config["plan_learning_rate"]) + 2)
    setting += 0.001 * (config["batch_size"] == (4 if config["condition"] == "s2t2" else 1))
    budget = residues / epoch if config["condition"] == "source-finetune" else epoch / residues
    return 4.0 + setting + 0.01 * budget


def test_select_picks_the_lowest_validation_bpc_and_the_comparison_uses_it(monkeypatch, tmp_path, capsys):
    from discolab.core.errors import DiscolabError
    from discolab.core.runs import RunsDB
    from discolab.core.s2t2.conditions import S2T2Config
    from discolab.experiments import s2t2_eval

    epoch = s2t2_eval.epoch_residues(S2T2Config())
    assert epoch == 163_133  # docs/s2t2.md

    def select_cell(config, seed):
        assert config["eval_split"] == "validation" and seed == 0 and config["residues"] == max(config["budgets"])
        return [
            {"metric": "validation_bpc", "value": fake_validation_bpc(config, b, epoch), "step": b}
            for b in config["budgets"]
        ]

    monkeypatch.setattr(s2t2_eval, "select_cell", select_cell)
    db_url, settings_path = f"sqlite:///{tmp_path}/runs.sqlite", tmp_path / "settings.json"
    common = ["--db", db_url, "--settings", str(settings_path)]
    s2t2_eval.main(["--select", "--conditions", "source-finetune", "s2t2", *common])
    assert len(RunsDB(db_url).cells(s2t2_eval.SELECT_EXPERIMENT)) == 3 + 2  # the learning rates; one seed
    settings = s2t2_eval.read_settings(settings_path)
    assert set(settings) == {"source-finetune", "s2t2"}
    half = round(epoch / 2)
    assert settings["source-finetune"] | {"validation_bpc": 0} == {
        "learning_rate": 1e-3, "plan_learning_rate": 1e-3, "batch_size": 4, "residues": half, "validation_bpc": 0,
    }  # fmt: skip
    assert settings["s2t2"]["residues"] == epoch and settings["s2t2"]["plan_learning_rate"] == 1e-2
    assert settings["s2t2"]["batch_size"] == 4 and settings["s2t2"]["validation_bpc"] == pytest.approx(4.011)
    out = capsys.readouterr().out
    assert "chosen on validation" in out and "4.159 bits per residue on validation" in out

    # --extend --select-batch-sizes: the other batch size at the chosen learning rates alone
    s2t2_eval.main(
        ["--select", "--extend", "--select-batch-sizes", "1", "4", "--conditions", "source-finetune", "s2t2", *common]
    )
    cells = [json.loads(c) for c in RunsDB(db_url).cells(s2t2_eval.SELECT_EXPERIMENT)["config"]]
    assert sorted((c["condition"], c["learning_rate"]) for c in cells if c["batch_size"] == 1) == [
        ("s2t2", 1e-3), ("source-finetune", 1e-3)
    ]  # fmt: skip
    settings = s2t2_eval.read_settings(settings_path)
    assert settings["s2t2"]["batch_size"] == 1 and settings["s2t2"]["validation_bpc"] == pytest.approx(4.01)
    assert settings["source-finetune"]["batch_size"] == 4  # batch 1 is worse there
    for wrong in (["--select-batch-sizes", "1"], ["--select", "--select-batch-sizes", "1"]):
        with pytest.raises(DiscolabError, match="use it with --select --extend"):
            s2t2_eval.main([*wrong, *common])
    with pytest.raises(DiscolabError, match="must be positive"):
        s2t2_eval.main(["--select", "--extend", "--select-batch-sizes", "0", *common])

    # --extend: the longer budgets for the chosen learning rates alone, and the budget chosen among them
    s2t2_eval.main(["--select", "--extend", "--select-epochs", "1", "2", "--conditions", "s2t2", *common])
    cells = [json.loads(c) for c in RunsDB(db_url).cells(s2t2_eval.SELECT_EXPERIMENT)["config"]]
    extended = [(c["condition"], c["learning_rate"]) for c in cells if c["residues"] == 2 * epoch]
    assert extended == [("s2t2", 1e-3)]
    extended_settings = s2t2_eval.read_settings(settings_path)
    assert extended_settings["s2t2"]["residues"] == 2 * epoch and extended_settings["s2t2"]["learning_rate"] == 1e-3
    assert extended_settings["s2t2"]["batch_size"] == 1  # the chosen batch carries over
    assert extended_settings["source-finetune"] == settings["source-finetune"]  # not extended: kept
    with pytest.raises(DiscolabError, match="use it with --select"):
        s2t2_eval.main(["--extend", *common])
    with pytest.raises(DiscolabError, match="no chosen settings for fresh-embeddings to extend"):
        s2t2_eval.main(["--select", "--extend", "--conditions", "fresh-embeddings", *common])
    settings_path.write_text(json.dumps(settings))
    capsys.readouterr()

    configs = s2t2_eval.comparison_configs(S2T2Config(), ["zero-shot", "source-finetune", "s2t2"], settings)
    assert [(c["condition"], c["source_head"]) for c in configs] == [
        ("zero-shot", "full"),
        ("source-finetune", "full"),
        ("s2t2", "full"),
    ]  # fmt: skip  (one model per condition; the source ones are scored under both heads)
    assert all(c["eval_split"] == "test" for c in configs)
    finetune = [c for c in configs if c["condition"] == "source-finetune"]
    assert all(c["residues"] == half and c["batch_size"] == 4 for c in finetune)
    at_two_passes = s2t2_eval.comparison_configs(S2T2Config(), ["zero-shot", "s2t2"], settings, passes=2)
    assert [c["residues"] for c in at_two_passes] == [S2T2Config().residues, 2 * epoch]  # zero-shot trains none
    assert at_two_passes[1]["batch_size"] == 1  # the other chosen settings stay
    with pytest.raises(DiscolabError, match="--passes must be positive"):
        s2t2_eval.comparison_configs(S2T2Config(), ["s2t2"], settings, passes=0)
    with pytest.raises(DiscolabError, match="--passes sets the comparison's budget"):
        s2t2_eval.main(["--select", "--passes", "1", *common])
    with pytest.raises(DiscolabError, match="no selected settings for fresh-embeddings"):
        s2t2_eval.comparison_configs(S2T2Config(), ["fresh-embeddings"], settings)

    def compare_cell(config, seed):
        assert config["eval_split"] == "test"
        bpc = {"zero-shot": 5.0, "source-finetune": 4.1, "s2t2": 4.0}[config["condition"]] + 0.01 * seed
        renormalised = [{"metric": "test_bpc_residue_head", "value": bpc - 0.3, "step": 0}]
        return renormalised * (config["condition"] != "s2t2") + [
                {"metric": "test_bpc", "value": bpc, "step": 0}, {"metric": "chars_per_token", "value": 1.5, "step": 0},
                {"metric": "trainable_parameters", "value": 10, "step": 0},
                {"metric": "train_seconds", "value": 60, "step": 0}, {"metric": "loss", "value": 4.5, "step": 0},
                {"metric": "loss", "value": 4.2, "step": 1}]  # fmt: skip

    monkeypatch.setattr(s2t2_eval, "compare_cell", compare_cell)
    monkeypatch.setattr(
        s2t2_eval, "compression_table", lambda: pd.DataFrame({"tokenizer": ["x"], "chars_per_token": [1.0]})
    )
    s2t2_eval.main(["--conditions", "zero-shot", "source-finetune", "s2t2", "--seeds", "2", *common])
    out = capsys.readouterr().out
    assert "4.181 on test" in out and "Bigram baseline" in out
    assert "source-finetune (residue-token head) - source-finetune: -0.300 bits/char" in out
    assert "s2t2 - source-finetune (residue-token head): +0.200 bits/char" in out
    table = s2t2_eval.summary(RunsDB(db_url), configs)
    assert table["condition"].tolist() == [
        "zero-shot", "zero-shot (residue-token head)", "source-finetune", "source-finetune (residue-token head)", "s2t2"
    ]  # fmt: skip
    assert table["seeds"].tolist() == [2] * 5 and table["residues"].tolist() == [0, 0, half, half, epoch]
