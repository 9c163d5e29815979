"""S2T2's data and target tokenizer: the offline proteins, the split, the BPE's compression."""

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
def tiny_s2t2():
    """S2T2 on the frozen embedded model with a 40-token protein BPE (seconds, not minutes)."""
    from discolab.core.s2t2.model import S2T2LM, load_body

    parts = split_sequences(protein_sequences())
    body, source_tokenizer = load_body(None, seed=0)
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
