"""Where API keys go, and what tools a model calls may touch (issue 22, security items 3 and 5).

Keys: the environment's OPENAI_API_KEY goes only to OPENAI_BASE_URL (or the official API when
that is unset) and to URLs trusted on the command line; a URL typed in the dashboard gets the key
typed with it, or none. Checked on the wire, with small local servers that record the
Authorization header of every request.

Tools: graph arguments are benchmarks or files inside the data directory's uploads; CharED takes
a few known local models; heavy tools run one at a time, and the agent runs tool calls in turn.
"""

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import REPO
from discolab.agents.research import AgentSettings, ask_agent
from discolab.agents.research.run import chat_model
from discolab.agents.tools import REGISTRY, ToolError, call_tool, register
from discolab.core.errors import DiscolabError, LLMError
from discolab.core.llm import credentials
from discolab.core.llm.credentials import OFFICIAL_URL, api_key_for, set_api_key, trust_base_url
from discolab.core.llm.openai_backend import OpenAIBackend
from discolab.core.paths import data_home
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from pydantic import BaseModel

KEY = "sk-test-secret"
REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}],
}


class RecordingServer:
    """A minimal OpenAI-compatible server on a free local port that records each request's
    Authorization header (None where there was none) and answers every chat with "done"."""

    def __init__(self):
        seen = self.authorizations = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # the model list the backend checks first
                self._answer({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "x"}]})

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._answer(REPLY)

            def _answer(self, payload):
                seen.append(self.headers.get("Authorization"))
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def keys(self) -> set[str | None]:
        """The bearer tokens received (one per distinct key)."""
        return {a.removeprefix("Bearer ") if a else None for a in self.authorizations}


@pytest.fixture(autouse=True)
def fresh_credentials(monkeypatch):
    """Each test starts with no trusted URL and no typed key (the registries are process-wide)."""
    monkeypatch.setattr(credentials, "_trusted", set())
    monkeypatch.setattr(credentials, "_typed", {})


@pytest.fixture
def servers(monkeypatch):
    """(the environment's server, another one); OPENAI_API_KEY and OPENAI_BASE_URL name the first."""
    env, other = RecordingServer(), RecordingServer()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", env.url)
    yield env, other
    env.close()
    other.close()


def chat(base_url=None):
    return OpenAIBackend(model="m", base_url=base_url, max_retries=0).chat([{"role": "user", "content": "hi"}])


# -- keys -------------------------------------------------------------------------------------------
def test_the_environments_key_goes_only_to_the_environments_server(servers):
    env, other = servers
    assert chat(other.url) == "done"
    assert other.keys() == {"not-needed"}  # a server nobody vouched for gets no key
    chat()  # no URL: the environment's server, with its key
    chat(env.url + "/")  # the same server
    assert env.keys() == {KEY}


def test_a_url_trusted_on_the_command_line_gets_the_environments_key(servers):
    env, other = servers
    trust_base_url(other.url + "/")
    chat(other.url)
    assert other.keys() == {KEY}


def test_a_typed_key_goes_to_its_url_only_and_can_be_forgotten(servers):
    env, other = servers
    set_api_key(other.url, "typed")
    chat(other.url)
    chat()
    assert other.keys() == {"typed"} and env.keys() == {KEY}
    set_api_key(other.url, "")
    other.authorizations.clear()
    chat(other.url)
    assert other.keys() == {"not-needed"}


def test_a_discovery_run_sends_the_key_typed_now_not_one_typed_before(servers):
    """The run's nodes build the server's client per use: a key changed or forgotten in the page
    reaches the next run (a client kept from the first run would send the first key forever)."""
    from discolab.agents.discovery.nodes import llm_backend

    _, other = servers
    for typed in ("first", "second", ""):
        set_api_key(other.url, typed)
        other.authorizations.clear()
        llm_backend("openai", "m", other.url).chat([{"role": "user", "content": f"hi {typed}"}])  # not cached
        assert other.keys() == {typed or "not-needed"}


def test_urls_compare_as_servers_not_as_prefixes(servers):
    env, _ = servers
    port = env.url.split(":")[2].split("/")[0]
    assert api_key_for(env.url) == KEY and api_key_for(env.url.replace("http://", "HTTP://") + "/") == KEY
    for url in [
        env.url + "/extra",
        env.url.replace(port, str(int(port) + 1)),
        f"http://127.0.0.1:{port}@evil.example/v1",
        f"https://127.0.0.1:{port}/v1",
        OFFICIAL_URL,  # OPENAI_BASE_URL is set: the key is for that server, not for api.openai.com
    ]:
        assert api_key_for(url) is None, url


def test_without_openai_base_url_the_key_is_for_the_official_api_only(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert api_key_for(None) == KEY and api_key_for("HTTPS://API.OPENAI.COM/v1/") == KEY
    assert api_key_for("http://127.0.0.1:8080/v1") is None


def test_the_official_api_without_a_usable_key_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(LLMError, match="OPENAI_API_KEY goes only to OPENAI_BASE_URL") as err:
        OpenAIBackend(model="m", base_url=OFFICIAL_URL)
    assert KEY not in str(err.value)


def test_the_key_is_in_no_repr_identity_or_settings(servers):
    env, _ = servers
    set_api_key(env.url, "typed-secret")
    backend = OpenAIBackend(model="m")
    shown = repr(backend) + str(backend.identity()) + repr(chat_model(AgentSettings(model="m")))
    assert "typed-secret" not in shown and KEY not in shown


def test_the_agents_client_follows_the_same_rule(servers):
    env, other = servers

    def key(base_url):
        return chat_model(AgentSettings(base_url=base_url, model="m")).openai_api_key.get_secret_value()

    assert key(None) == KEY and key(env.url) == KEY and key(other.url) == "not-needed"
    set_api_key(other.url, "typed")
    assert key(other.url) == "typed"
    # On the wire, end to end through the agent's loop:
    assert ask_agent("hi", AgentSettings(base_url=other.url, model="m")).answer == "done"
    assert other.keys() == {"typed"}
    ask_agent("hi", AgentSettings(model="m"))
    assert env.keys() == {KEY}


def test_the_agent_without_any_key_for_the_official_api_says_so(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(DiscolabError, match="needs a tool-capable OpenAI-compatible model: no API key"):
        chat_model(AgentSettings())


def test_the_agent_page_sends_the_key_typed_in_it(servers):
    from streamlit.testing.v1 import AppTest

    env, other = servers
    app = AppTest.from_file(str(REPO / "ui" / "pages" / "agent.py"), default_timeout=60)
    app.run()
    app.text_input[0].set_value(other.url)
    app.text_input[1].set_value("typed-in-page")
    app.chat_input[0].set_value("hi").run()
    assert not app.exception and not app.error
    assert other.keys() == {"typed-in-page"} and not env.authorizations


# -- what tools may read ------------------------------------------------------------------------------
@pytest.fixture
def uploaded():
    """A graph file stored in the data directory's uploads, as the dashboard stores one."""
    path = data_home() / "uploads" / "0123456789abcdef.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "docs" / "examples" / "smoking.json", path)
    yield path
    path.unlink()


def test_tools_read_benchmarks_and_uploaded_files(uploaded):
    assert call_tool("describe_graph", {"graph": "asia-renamed"})["variables"]
    for graph in (str(uploaded), uploaded.name):
        assert call_tool("describe_graph", {"graph": graph})["name"] == "smoking"


# the refusal names the choices: the benchmarks and the uploads (but not a link out of them)
REFUSED = (
    r"not available to tools: give a benchmark \(.*asia.*\) or a graph file .* \([^)]*0123456789abcdef.json[^)]*\)"
)


def test_tools_refuse_every_other_path(uploaded, tmp_path):
    outside = tmp_path / "smoking.json"
    shutil.copy(uploaded, outside)
    link = uploaded.parent / "link.json"
    link.symlink_to(outside)
    try:
        for graph in [
            str(outside),  # a readable graph file, but not an upload
            str(link),  # a link out of the uploads
            f"../../../../../../../..{outside}",
            f"{uploaded.parent}/../{uploaded.parent.name}/../../{outside.name}",
            "/etc/passwd",
            str(uploaded.parent),
            "nul\0.json",
        ]:
            with pytest.raises(ToolError, match=REFUSED) as refused:
                call_tool("describe_graph", {"graph": graph})
            assert "link.json" not in str(refused.value).split("uploaded to")[1]  # links out are not offered
        with pytest.raises(ToolError, match="not available to tools"):
            call_tool("run_discovery", {"graph": str(outside), "rounds": 0})
    finally:
        link.unlink()


def test_chared_takes_a_few_known_models_only():
    for models, problem in [
        (["/tmp/evil.gguf"], "Input should be 'smollm2' or 'gemma3-270m'"),
        (["smollm2"] * 5, "at most 4 items"),
        ([], "at least 1 item"),
    ]:
        with pytest.raises(ToolError, match=problem):
            call_tool("chared_generate", {"prompt": "Hi", "models": models})


def test_work_is_bounded():
    with pytest.raises(ToolError, match="seed: Input should be less than or equal to 2147483647"):
        call_tool("moe_train", {"seed": 10**30})
    with pytest.raises(ToolError, match="seed: Input should be greater than or equal to 0"):
        call_tool("tree_train", {"seed": -1})
    with pytest.raises(ToolError, match="prompt: String should have at most 4000 characters"):
        call_tool("chared_generate", {"prompt": "x" * 5000})


# -- one heavy tool at a time ---------------------------------------------------------------------
def test_training_discovery_and_local_generation_are_heavy():
    heavy = {name for name, tool in REGISTRY.items() if tool.heavy}
    assert heavy == {
        "run_discovery",
        "chared_generate",
        "interp_generate",
        "moe_train",
        "ddeq_train",
        "tree_train",
        "distill_softlabel",
        "distill_d3",
    }


class NoArguments(BaseModel):
    pass


@pytest.fixture
def sleepy_tools():
    """A heavy and a light test tool that sleep, recording (name, start, end) of every call."""
    spans = []

    def sleepy(name):
        def run():
            start = time.monotonic()
            time.sleep(0.2)
            spans.append((name, start, time.monotonic()))
            return name

        return run

    register("test_heavy", "sleeps", NoArguments, heavy=True)(sleepy("test_heavy"))
    register("test_light", "sleeps", NoArguments)(sleepy("test_light"))
    yield spans
    del REGISTRY["test_heavy"], REGISTRY["test_light"]


def overlap(spans) -> bool:
    spans = sorted(spans, key=lambda s: s[1])
    return any(later[1] < earlier[2] for earlier, later in zip(spans, spans[1:]))


def test_heavy_tools_wait_for_each_other_from_any_thread(sleepy_tools):
    threads = [threading.Thread(target=call_tool, args=(name, {})) for name in ["test_heavy"] * 3 + ["test_light"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlap([s for s in sleepy_tools if s[0] == "test_heavy"])
    assert overlap(sleepy_tools)  # a light tool does not wait


class ScriptedToolModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self


@pytest.mark.parametrize("name", ["test_heavy", "test_light"])
def test_the_agent_runs_the_tool_calls_of_one_message_in_turn(sleepy_tools, name):
    calls = [{"name": name, "args": {}, "id": f"c{i}", "type": "tool_call"} for i in range(3)]
    script = iter([AIMessage("", tool_calls=calls), AIMessage("done")])
    answer = ask_agent("go", AgentSettings(), model=ScriptedToolModel(messages=script))
    assert [json.loads(c["result"]) for c in answer.tool_calls] == [name] * 3
    assert len(sleepy_tools) == 3 and not overlap(sleepy_tools)
