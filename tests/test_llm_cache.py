"""The response cache, around a backend that counts what it is asked (the cache's own logic)."""

from discolab.core.llm import FALLBACK, TOKEN_PROBABILITY, CachedBackend, ResponseCache, YesNo, yes_no_prompt


class CountingBackend:
    kind, model = "counting", "m"

    def __init__(self):
        self.asked = []

    def identity(self):
        return {"kind": self.kind, "model": self.model}

    def score_yes_no(self, prompts, progress=False):
        self.asked += [p[-1]["content"] for p in prompts]
        return [
            YesNo(0.5, FALLBACK)
            if "unclear" in p[-1]["content"]
            else YesNo(len(p[-1]["content"]) / 100, TOKEN_PROBABILITY)
            for p in prompts
        ]

    def chat(self, messages, *, max_tokens=256, temperature=0.0, seed=0):
        self.asked.append(("chat", seed))
        return f"reply {seed}"


def test_second_run_costs_no_calls(tmp_path):
    inner = CountingBackend()
    backend = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    prompts = [yes_no_prompt(q) for q in ("a?", "bb?", "ccc?")]
    first = backend.score_yes_no(prompts)
    assert len(inner.asked) == 3 and backend.cache.stats() == {"hits": 0, "misses": 3}
    again = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite")).score_yes_no(prompts + [yes_no_prompt("dddd?")])
    assert len(inner.asked) == 4  # only the new question
    assert [a.p_yes for a in again[:3]] == [a.p_yes for a in first]


def test_fallback_answers_are_not_cached(tmp_path):
    inner = CountingBackend()
    backend = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    backend.score_yes_no([yes_no_prompt("unclear?")])
    backend.score_yes_no([yes_no_prompt("unclear?")])
    assert len(inner.asked) == 2


def test_chat_cache_is_keyed_by_parameters(tmp_path):
    inner = CountingBackend()
    backend = CachedBackend(inner, ResponseCache(tmp_path / "c.sqlite"))
    msgs = [{"role": "user", "content": "hi"}]
    assert backend.chat(msgs, seed=1) == backend.chat(msgs, seed=1) == "reply 1"
    assert backend.chat(msgs, seed=2) == "reply 2"
    assert inner.asked == [("chat", 1), ("chat", 2)]
