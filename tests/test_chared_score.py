"""CharED's text probabilities (summed over segmentations), the KV cache, the ensemble as a
yes/no backend and discovery prior, and the experiment's data."""

import functools
import itertools
import math
import re

import numpy as np
import pytest
from discolab.core.chared import CharacterMarginals, TokenStrings
from discolab.core.chared.ensemble import mix, segment_probabilities
from discolab.core.chared.score import bits_per_character, prefix_log_probabilities


class WordTokenizer:
    """A tokenizer stand-in: a fixed list of token strings, no special tokens."""

    def __init__(self, vocabulary):
        self.vocabulary = list(vocabulary)
        self.all_special_ids = []

    def __len__(self):
        return len(self.vocabulary)

    def batch_decode(self, ids):
        return [self.vocabulary[i[0]] for i in ids]


VOCABULARIES = (["a", "b", "ab", "ba", "abb", " ", " a"], ["a", "b", "aa", "bab", "b ", " "])


def toy_marginals(vocabulary_index: int, context: str) -> CharacterMarginals:
    """A next-token distribution that depends on the context (seeded by it)."""
    strings = TokenStrings(WordTokenizer(VOCABULARIES[vocabulary_index]))
    seed = sum(ord(c) * 31**k for k, c in enumerate(context)) % 2**32 + vocabulary_index
    return CharacterMarginals.from_probabilities(
        strings, np.random.default_rng(seed).dirichlet(np.ones(strings.vocab_size))
    )


def brute_force_prefix_probability(text: str, weights, context: str = "") -> float:
    """Sum over every segmentation of ``text``, each segment's probability taken step by step from
    the mixed character distributions that generation samples from (``mix`` of ``distribution``);
    the last segment may run past the text."""
    total = 0.0
    n = len(text)
    for cuts in itertools.chain.from_iterable(itertools.combinations(range(1, n), r) for r in range(n)):
        bounds = [0, *cuts, n]
        probability = 1.0
        for index, (start, stop) in enumerate(zip(bounds, bounds[1:])):
            marginals = [toy_marginals(i, context + text[:start]) for i in range(2)]
            alive = list(weights)
            segment = text[start:stop]
            for k, char in enumerate(segment):
                distributions = [m.distribution(segment[:k]) if w > 0 else {} for m, w in zip(marginals, alive)]
                alive = [w if d else 0.0 for d, w in zip(distributions, alive)]
                probability *= mix(distributions, alive).get(char, 0.0)
            if index < len(bounds) - 2:  # a segment inside the text must end exactly here
                distributions = [m.distribution(segment) if w > 0 else {} for m, w in zip(marginals, alive)]
                alive = [w if d else 0.0 for d, w in zip(distributions, alive)]
                probability *= mix(distributions, alive).get(None, 0.0)
        total += probability
    return total


@pytest.mark.parametrize("text", ["ab", "abba", "ab ab", "bab b"])
@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.3, 0.7), (0.0, 1.0)])
def test_prefix_probability_sums_every_segmentation(text, weights):
    def at(i):
        return [toy_marginals(k, text[:i]) for k in range(2)]

    log_p = prefix_log_probabilities(at, text, [weights])[0]
    assert math.exp(log_p) == pytest.approx(brute_force_prefix_probability(text, weights), rel=1e-9)


def test_segment_probabilities_are_the_chain_of_mixed_conditionals():
    marginals = [toy_marginals(0, "x"), toy_marginals(1, "x")]
    starts, exact = segment_probabilities(marginals, [0.5, 0.5], "abb")
    assert len(starts) == 3 and all(0 < e <= s <= 1 for s, e in zip(starts, exact))
    first = mix([m.distribution("") for m in marginals], [0.5, 0.5])
    assert starts[0] == pytest.approx(first["a"])
    # a character no model can produce ends the lists
    assert segment_probabilities(marginals, [0.5, 0.5], "zz") == ([], [])


def test_one_dp_pass_serves_every_weight_vector_and_calls_each_boundary_once():
    text, calls = "abab", []

    def at(i):
        calls.append(i)
        return [toy_marginals(k, text[:i]) for k in range(2)]

    together = prefix_log_probabilities(at, text, [(1, 0), (0.5, 0.5)])
    assert calls == sorted(set(calls))
    alone = [
        prefix_log_probabilities(lambda i: [toy_marginals(k, text[:i]) for k in range(2)], text, [w])[0]
        for w in [(1, 0), (0.5, 0.5)]
    ]
    np.testing.assert_allclose(together, alone)
    assert bits_per_character(together, len(text)).shape == (2,)


def test_pruned_boundaries_give_a_lower_bound_within_the_pruned_mass():
    text = "abab ab"

    def at(i):
        return [toy_marginals(k, text[:i]) for k in range(2)]

    exact = math.exp(prefix_log_probabilities(at, text, [(0.5, 0.5)])[0])
    pruned = math.exp(prefix_log_probabilities(at, text, [(0.5, 0.5)], min_boundary=0.05)[0])
    assert pruned <= exact + 1e-15
    assert exact - pruned <= 0.05 * len(text)


# -- with the embedded model --------------------------------------------------------------------
def test_kv_cache_gives_the_same_distribution_as_a_fresh_pass(local_fp32):
    from discolab.core.chared.decode import CharEDModel

    model = CharEDModel("smollm2")
    text = "def add(a, b):\n    return a + b\n"
    model.next_token_probabilities(text[:20])
    cached = model.next_token_probabilities(text)  # reuses the first call's shared tokens
    model.next_token_probabilities("Something else entirely")  # a shorter, different text cuts back
    again = model.next_token_probabilities(text)
    model._cache, model._ids = None, []
    fresh = model.next_token_probabilities(text)
    np.testing.assert_allclose(cached, fresh, atol=1e-5)
    np.testing.assert_allclose(again, fresh, atol=1e-5)


def test_single_model_text_probability_matches_token_level_enumeration(local_fp32):
    """With one model, P(text) under CharED is the sum over the text's segmentations of the
    product of segment probabilities (each after re-reading, and healing, the text so far), here
    enumerated directly from the masses."""

    from discolab.core.chared.decode import CharEDModel

    model = CharEDModel("smollm2")
    context, text = "x = 1\ny = ", "x + 2"

    @functools.cache
    def tail(i: int) -> float:
        marginals = model.marginals(context + text[:i])
        usable = marginals.mass("")  # 1 - excluded for a plain reading, 1 for a healed one
        total = 0.0
        for j in range(i + 1, len(text) + 1):
            mass, exact = marginals.masses(text[i:j])
            if mass == 0:
                break
            total += mass / usable if j == len(text) else exact / usable * tail(j)
        return total

    log_p = prefix_log_probabilities(lambda i: [model.marginals(context + text[:i])], text, [(1.0,)])[0]
    # float32 forward passes differ in the last digits with the cache's history, hence 1e-5
    assert log_p == pytest.approx(math.log(tail(0)), abs=1e-5)


def test_chared_backend_alone_agrees_with_the_token_level_backend(local_fp32):
    from discolab.core.chared.backend import CharEDBackend
    from discolab.core.graphs import resolve_graph
    from discolab.core.igda.prompts import edge_question

    spec = resolve_graph("cancer")
    prompts = [edge_question(spec, u, v) for u, v in spec.ordered_pairs()[:3]]
    chared = CharEDBackend(["smollm2"], [1.0]).score_yes_no(prompts)
    token = local_fp32.score_yes_no(prompts)
    for c, t in zip(chared, token):
        assert c.method == "character-probability"
        assert c.p_yes == pytest.approx(t.p_yes, abs=0.01)
        assert 0.0 < c.answer_mass <= 1.0
    with pytest.raises(ValueError, match="non-negative weight"):
        CharEDBackend(["smollm2"], [0.5, 0.5])


def test_chared_backend_flags_an_answer_with_no_yes_or_no_mass(monkeypatch):
    """No mass on any spelling is no answer: 0.5 flagged as a fallback (calibration and the cache
    skip it), as the other backends do, not a character probability of 0.5."""
    from discolab.core.chared import backend as module

    class Silent:  # a model that never reaches an answer
        def render(self, prompt):
            return "Q: " + prompt[-1]["content"] + "\nA:"

        def marginals(self, text):
            return None

    monkeypatch.setattr(module, "prefix_log_probabilities", lambda *a, **k: np.array([-np.inf]))
    chared = module.CharEDBackend(["smollm2"], [1.0])
    chared._models = [Silent()]
    (answer,) = chared.score_yes_no([[{"role": "user", "content": "Does rain cause wet grass?"}]])
    assert answer.fallback and answer.p_yes == 0.5 and answer.answer_mass == 0.0
    assert "no mass" in answer.detail


def test_discovery_with_a_chared_prior_runs_and_names_bad_ensembles(local_fp32, tmp_path, monkeypatch):
    from discolab.agents.discovery import DiscoverySettings, start_discovery
    from discolab.core.errors import DiscolabError

    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path))
    with pytest.raises(DiscolabError, match="one non-negative weight per model"):
        DiscoverySettings(prior="chared", ensemble="smollm2,smollm2", ensemble_weights="1")
    settings = DiscoverySettings(
        graph="cancer",
        prior="chared",
        ensemble="smollm2,smollm2",
        ensemble_weights="0.5,0.5",
        update="structural",
        rounds=1,
        per_round=1,
    )
    run = start_discovery(settings, durable=False)
    beliefs = run.values["prior_beliefs"]
    assert len(beliefs) == 20 and all(0.0 < p < 1.0 for p in beliefs) and len(set(beliefs)) > 1
    assert run.history[-1]["experiments"] == 1


def test_generate_takes_a_prompt_per_model_and_stops(local_fp32):
    from discolab.core.chared.decode import CharEDModel, generate

    smol = CharEDModel("smollm2")
    out = generate(["Count: 1, 2, 3,", "Count: 1, 2, 3,"], [smol, smol], [0.5, 0.5], max_chars=40, stop=",")
    assert "," not in out.text and len(out.text) < 40
    with pytest.raises(ValueError, match="2 prompts for 1 models"):
        generate(["a", "b"], [smol], [1.0])


# -- the experiment's data ----------------------------------------------------------------------
def test_arithmetic_problems_are_seeded_and_their_answers_right():
    from discolab.experiments.chared_eval import arithmetic_problems, first_integer

    problems = arithmetic_problems(200)
    assert problems == arithmetic_problems(200) and problems != arithmetic_problems(200, seed=1)
    for question, answer in problems:
        a, b = (int(x) for x in re.findall(r"\d+", question))
        assert answer == (a + b if "more" in question else a - b if "away" in question else a * b)
        assert answer >= 0
    assert first_integer(" 12\n") == 12 and first_integer(" twelve") is None


def test_humaneval_subset_ships_offline():
    from discolab.experiments.chared_eval import MAX_SOLUTION_CHARS, humaneval_subset

    problems = humaneval_subset(5)
    assert [p["task_id"] for p in problems][0] == "HumanEval/0" and len(problems) == 5
    assert all(len(p["canonical_solution"]) <= MAX_SOLUTION_CHARS for p in problems)


def test_the_humaneval_harness_passes_canonical_solutions_and_fails_wrong_ones():
    from discolab.experiments.chared_eval import humaneval_problems, run_graded

    for problem in humaneval_problems(3):
        for completion, right in ((problem["canonical_solution"], True), ("    return None\n", False)):
            held, asserts, result = run_graded(problem, completion)
            assert result.passed and (held == asserts) == right, problem["task_id"]


def test_heldout_passages_are_seeded_lines_of_the_projects_docs_and_code():
    from discolab.experiments.chared_eval import HELDOUT_CHARS, HELDOUT_CONTEXT, PROJECT, heldout_passages

    passages = heldout_passages(6)
    assert passages == heldout_passages(6) and passages != heldout_passages(6, seed=1)
    assert [p["kind"] for p in passages] == ["docs", "code"] * 3
    for p in passages:
        text = (PROJECT / p["source"]).read_text(encoding="utf-8")
        assert text[p["offset"] - 1] == "\n" and text[p["offset"] : p["offset"] + HELDOUT_CHARS] == p["text"]
        assert len(p["context"]) == HELDOUT_CONTEXT and len(p["text"]) == HELDOUT_CHARS


def test_mcnemar_counts_the_discordant_problems():
    import numpy as np
    from discolab.experiments.stats import mcnemar_exact

    first, second = np.array([1, 1, 1, 1, 1, 1, 0, 0]), np.array([0, 0, 0, 0, 0, 0, 0, 1])
    only_first, only_second, p = mcnemar_exact(first, second)
    assert (only_first, only_second) == (6, 1) and 0.1 < p < 0.2  # 2 x P(X <= 1), X ~ Bin(7, 1/2) = 0.125
    assert mcnemar_exact(first, first)[2] == 1.0


def test_the_heldout_set_is_pinned_in_a_file_once_drawn(tmp_path):
    from discolab.experiments.chared_eval import heldout_passages, pinned_heldout

    path = tmp_path / "heldout.json"
    first = pinned_heldout(4, path)
    assert first == heldout_passages(4) and path.exists()
    import json

    stored = json.loads(path.read_text())
    stored[0]["text"] = "EDITED LATER" + stored[0]["text"][12:]  # through JSON: a passage may hold quotes
    path.write_text(json.dumps(stored))
    assert pinned_heldout(2, path)[0]["text"].startswith("EDITED LATER")  # read back, not redrawn


def test_the_heldout_report_pairs_the_best_mixture_with_the_better_model_over_passages():
    import numpy as np
    import pandas as pd
    from discolab.experiments.chared_eval import ALPHAS, heldout_report

    rng = np.random.default_rng(0)
    chars = np.full(8, 500)
    table = pd.DataFrame({"kind": ["docs", "code"] * 4, "chars": chars})
    for alpha in ALPHAS:  # the models at alpha 0 and 1, every mixture 0.1 bits/char better but on one passage
        bpc = 2.0 + 0.2 * alpha + rng.normal(0, 0.01, 8) - (0.1 if 0 < alpha < 1 else 0.0)
        if 0 < alpha < 1:
            bpc[0] += 0.3
        table[f"bpc@{alpha:g}"] = bpc
        table[f"ln_p@{alpha:g}"] = -bpc * chars * np.log(2)
    text = "\n".join(heldout_report(table))
    assert "against the better model (alpha 0)" in text and "lower on 7 of 8 passages" in text
    assert "| 0 | " in text and "Wilcoxon p = " in text


# -- healing the boundary -------------------------------------------------------------------------
def _readings():
    from discolab.core.chared.vocabulary import HealedMarginals, MixedMarginals

    healed = HealedMarginals(toy_marginals(0, "p"), "a", toy_marginals(0, "pa"))
    no_exact = HealedMarginals(toy_marginals(1, "q"), "b", None)  # no continuation after a token exactly "b"
    return [healed, no_exact, MixedMarginals([healed, no_exact], [0.3, 0.7])]


@pytest.mark.parametrize("reading", range(3))
def test_healed_readings_are_distributions_that_obey_the_chain_rule(reading):
    """Healed and mixed readings: every character distribution sums to 1, mass('') = 1, and the
    product of conditionals along a string times its end option is the string's exact mass."""
    marginals = _readings()[reading]
    assert marginals.masses("") == pytest.approx((1.0, 0.0))
    for text in ("", "a", "b", "ab", "ba", " ", "bab"):
        distribution = marginals.distribution(text)
        if distribution:
            assert sum(distribution.values()) == pytest.approx(1.0)
        product = 1.0
        for k, char in enumerate(text):
            product *= marginals.distribution(text[:k]).get(char, 0.0)
        assert product == pytest.approx(marginals.mass(text), abs=1e-12)
        if text:
            assert product * marginals.distribution(text).get(None, 0.0) == pytest.approx(
                marginals.masses(text)[1], abs=1e-12
            )


def test_healed_reading_splits_the_pending_token_between_longer_tokens_and_the_full_text():
    """With pending "a": tokens "ab" and "abb" continue it in the healed distribution, and the
    token exactly "a" hands the continuation to the full text's distribution."""
    from discolab.core.chared.vocabulary import HealedMarginals

    healed, full = toy_marginals(0, "p"), toy_marginals(0, "pa")
    reading = HealedMarginals(healed, "a", full)
    stay = healed.masses("a")[1] / healed.mass("a")  # P(token is exactly "a" | it starts with "a")
    expected_b = (healed.mass("ab") + healed.masses("a")[1] * full.mass("b") / full.mass("")) / healed.mass("a")
    assert reading.mass("b") == pytest.approx(expected_b)
    assert reading.mass(" ") == pytest.approx(stay * full.mass(" ") / full.mass(""))


def test_healing_lets_smollm2_write_a_function_body(local_fp32):
    """The defect healing fixes: a prompt that ends in a newline ends in SmolLM2's token "\\n",
    which in its training data never comes before an indent (that is written "\\n   " + " word"),
    so read as is, the model closes the code block. Healed, it writes an indented body, and a text
    ending in a four-space indent (one token "\\n    " to SmolLM2, seen only before blank lines)
    is continued with code, not a newline."""
    from discolab.core.chared.decode import CharEDModel, generate

    prompt = 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b."""\n'
    plain = generate(prompt, [CharEDModel("smollm2", heal=False)], [1.0], max_chars=12)
    healed_model = CharEDModel("smollm2")
    healed = generate(prompt, [healed_model], [1.0], max_chars=12)
    assert not plain.text.startswith("    ")
    assert healed.text.startswith("    ") and not healed.text[4].isspace()
    assert len(healed_model.boundaries(prompt + "    ")) == 2  # the indent token, and "\n   " + a " "-token
    indented = generate(prompt + "    ", [healed_model], [1.0], max_chars=8)
    assert indented.text[:1].isalpha()


def test_the_experiment_records_the_boundary_reading_and_reports_each_apart(tmp_path):
    """Canonical cells keep the configs (and hashes) recorded before healing existed; healed cells
    carry their reading and stops; the report gives each reading its own table."""
    from discolab.core.runs import RunsDB
    from discolab.experiments.chared_eval import HEALED_STOPS, report, sweeps

    canonical, healed = (
        {spec.name: spec for spec in sweeps(2, 4, 1, heldout=2, humaneval=2, boundary=b)}
        for b in ("canonical", "healed")
    )
    assert all("boundary" not in c and "stops" not in c for c in canonical["chared-humaneval"].configs)
    assert all(
        c["boundary"] == "healed" and c["stops"] == list(HEALED_STOPS) for c in healed["chared-humaneval"].configs
    )
    with pytest.raises(ValueError, match="boundary 'fuzzy'"):
        sweeps(2, 4, 1, boundary="fuzzy")
    db = RunsDB(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    for spec, passed in ((canonical["chared-humaneval"], 0.0), (healed["chared-humaneval"], 1.0)):
        for config in spec.configs:
            metrics = {
                "passed": passed,
                "timeout": 0.0,
                "chars": 10,
                "generation_seconds": 1.0,
                "isolated_network": 1.0,
            }
            if spec is healed["chared-humaneval"]:  # recorded since the asserts are graded; canonical rows predate it
                metrics["asserts_passed"] = config["alpha"] / 2 + (config["task_id"] == "HumanEval/1") / 4
            db.record(spec.name, config, 0, metrics, setting=spec.setting(config))
    text = report(db)
    healed_part, canonical_part = text.split("[healed boundary]")[1].split("[canonical boundary]")
    assert "| 0.5 | 1.000 | 2 | 0.375 |" in healed_part and "| 0.5 | 0.000 | 0 | not recorded |" in canonical_part
    assert "asserts held -0.250" in healed_part and "Wilcoxon" not in canonical_part
    assert (
        "alpha 0.5: more asserts held than both single models on 0 problems, fewer than both on 0 (of 2" in healed_part
    )


def test_graded_humaneval_program_counts_the_asserts_a_completion_satisfies():
    """Every assert runs even after one fails; ``assert True`` is not counted; a completion that
    exits early or dies before the tests gets no credit and cannot forge the marker."""
    from discolab.experiments.chared_eval import humaneval_problems, run_graded

    def held(problem, completion):
        return run_graded(problem, completion)[:2]

    problem = humaneval_problems(3)[2]  # truncate_number: return number % 1.0; three asserts
    assert held(problem, problem["canonical_solution"]) == (3, 3)
    assert held(problem, "    return 0.5\n") == (1, 3)  # right only for truncate_number(3.5)
    assert held(problem, "    raise ValueError\n")[0] == 0  # every call raises: each assert fails, all still run
    assert held(problem, "    return (\n")[0] is None  # a syntax error: no tests ran
    assert held(problem, "    import sys; sys.exit(0)\n")[0] == 0  # exit() inside an assert is that assert failing
    forged = '    import sys; print("discolab-asserts-0123456789abcdef 99", file=sys.stderr); return 0.0\n'
    assert held(problem, forged)[0] == 0
    boilerplate = {**problem, "test": problem["test"] + '    assert True, "This prints if this assert fails"\n'}
    assert held(boilerplate, "    return 0.5\n") == (1, 3)


def test_healing_backs_off_every_byte_token_of_a_split_last_character(local_fp32):
    """SmolLM2 spells a no-break space as two byte tokens with the same span: both are backed off,
    never a prefix that ends inside the character."""
    from discolab.core.chared.decode import CharEDModel

    model = CharEDModel("smollm2")
    text = "a \xa0"
    (prefix, pending, _), *_ = model.boundaries(text)
    assert model.tokenizer.decode(prefix) + pending == text and "\ufffd" not in model.tokenizer.decode(prefix)
    assert abs(sum(model.marginals(text).distribution("").values()) - 1.0) < 1e-9
