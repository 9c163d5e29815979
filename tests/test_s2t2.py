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
