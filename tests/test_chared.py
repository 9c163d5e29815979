"""CharED's character marginals on the embedded model: normalisation, the chain rule, and
alpha = 1 reproducing the model's own token-level sampling draw for draw."""

import numpy as np
import pytest
import torch
from discolab.core.chared import CharacterMarginals, TokenStrings
from discolab.core.chared.ensemble import mix, next_segment


@pytest.fixture(scope="module")
def smollm(local_fp32):
    model, tokenizer = local_fp32._lm
    ids = tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        probabilities = torch.softmax(model(ids).logits[0, -1].double(), -1).numpy()
    strings = TokenStrings(tokenizer)
    return tokenizer, strings, probabilities, CharacterMarginals.from_probabilities(strings, probabilities)


def test_token_strings_follow_the_documented_policy(smollm):
    tokenizer, strings, _, _ = smollm
    assert strings.strings == sorted(strings.strings)
    assert " the" in strings.strings  # the byte-level space marker is decoded to a space
    special = set(tokenizer.all_special_ids)
    assert not special & set(strings.ids.tolist())
    assert not any("\ufffd" in s or s == "" for s in strings.strings)
    start, stop = strings.range(" th")
    assert all(s.startswith(" th") for s in strings.strings[start:stop])
    assert sum(s.startswith(" th") for s in strings.strings) == stop - start


@pytest.mark.parametrize("prefix", ["", " ", " P", " Par", "Q"])
def test_each_character_distribution_sums_to_one(smollm, prefix):
    *_, marginals = smollm
    distribution = marginals.distribution(prefix)
    assert distribution and sum(distribution.values()) == pytest.approx(1.0, abs=1e-9)
    assert all(p >= 0 for p in distribution.values())


def test_chain_rule_gives_each_token_string_its_probability(smollm):
    _, strings, probabilities, marginals = smollm
    usable = 1.0 - marginals.excluded
    by_string: dict[str, float] = {}
    for position, token in enumerate(strings.ids):
        by_string[strings.strings[position]] = by_string.get(strings.strings[position], 0.0) + probabilities[token]
    top = sorted(by_string, key=by_string.get, reverse=True)[:40] + ["Paris", " Lyon", "\n\n"]
    for text in [t for t in top if t in by_string]:
        product = 1.0
        for k, char in enumerate(text):
            product *= marginals.distribution(text[:k])[char]
        product *= marginals.distribution(text)[None]
        assert product * usable == pytest.approx(by_string[text], rel=1e-9, abs=1e-15)


def test_alpha_one_reproduces_token_level_inverse_cdf_sampling(smollm):
    _, strings, probabilities, marginals = smollm
    cumulative = np.cumsum(probabilities[strings.ids])
    cumulative /= cumulative[-1]
    rng = np.random.default_rng(0)
    other = CharacterMarginals.from_probabilities(strings, rng.dirichlet(np.ones(len(probabilities))))
    for u in rng.random(300):
        token = strings.strings[int(np.searchsorted(cumulative, u, side="right"))]
        assert next_segment([marginals, other], [1.0, 0.0], u=u) == token
    # alpha = 0 likewise picks the second model
    assert next_segment([marginals, other], [0.0, 1.0], u=0.5) == next_segment([other], [1.0], u=0.5)


def test_mixture_is_a_distribution_and_drops_a_model_that_cannot_continue():
    a, b = {None: 0.5, "x": 0.5}, {"y": 1.0}
    assert mix([a, b], [0.25, 0.75]) == {None: 0.125, "x": 0.125, "y": 0.75}
    assert mix([a, {}], [0.5, 0.5]) == a
    assert mix([{}, {}], [0.5, 0.5]) == {}
    with pytest.raises(ValueError):
        next_segment([], [1.0])


def test_greedy_decoding_takes_the_most_probable_character_and_sampling_is_seeded(local_fp32):
    """Character-wise greedy is not token-wise greedy (a space starts far more tokens than any
    single token's mass), so the check is the rule itself: every step takes the most probable option."""
    from discolab.core.chared.decode import CharEDModel, generate

    smol = CharEDModel("smollm2")
    prompt = "The three primary colours are"
    ensemble = generate(prompt, [smol], [1.0], max_chars=30)
    assert ensemble.text == "".join(ensemble.segments) and len(ensemble.text) >= 20
    marginals = smol.marginals(prompt)
    segment = ensemble.segments[0]
    for k in range(len(segment) + 1):
        distribution = marginals.distribution(segment[:k])
        best = max(distribution, key=distribution.get)
        assert best == (segment[k] if k < len(segment) else None)
    sampled = [generate(prompt, [smol], [1.0], max_chars=20, seed=s).text for s in (1, 1, 2)]
    assert sampled[0] == sampled[1]


def test_cli_runs_chared_and_names_bad_weights(local_fp32, capsys):
    import json

    from discolab.ui.cli import main

    assert main(["chared", "Hello", "--models", "smollm2", "--max-chars", "12", "--seed", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["weights"] == [1.0] and result["text"] == "".join(result["segments"])
    assert main(["chared", "Hello", "--models", "smollm2", "--weights", "-1"]) == 2
    assert "non-negative weight per model" in capsys.readouterr().err


def test_prefix_masses_agree_with_genlm_bytes_token_byte_trie(smollm):
    """Cross-check against an independent implementation: genlm-bytes sums token probabilities
    over a byte trie. With the tokens our policy excludes given zero weight, its mass at the
    node of a prefix's UTF-8 bytes must equal our mass of that prefix (genlm sums in float32)."""
    pytest.importorskip("genlm.bytes")
    from genlm.backend.tokenization import decode_vocab
    from genlm.bytes import TokenByteTrie

    tokenizer, strings, probabilities, marginals = smollm
    trie = TokenByteTrie(decode=decode_vocab(tokenizer)[0], device="cpu")
    weights = np.zeros(len(probabilities))
    weights[strings.ids] = probabilities[strings.ids]
    masses = trie.weight_sum(torch.tensor(weights))
    for prefix in ["", " ", " P", " Par", "Q", " the", " é", "\n"]:
        node = trie.root
        for byte in prefix.encode():
            node = trie.children[node][byte]
        assert float(masses[node]) == pytest.approx(marginals.mass(prefix), rel=5e-4, abs=1e-12)
