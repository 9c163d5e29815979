"""Agent: chat with the research agent; every tool call and its result is shown."""

import json
import os

import streamlit as st
from discolab.agents.research import AgentSettings, ask_agent
from discolab.core.errors import DiscolabError
from discolab.core.llm.credentials import default_base_url, set_api_key
from discolab.ui.tool_form import tool_form
from discolab.ui.views import plain

SERVER_LINES = (
    "# llama.cpp's server (any GGUF model with tool calling, e.g. Qwen2.5-7B-Instruct); base URL http://127.0.0.1:8080/v1\n"
    "llama-server -m qwen2.5-7b-instruct-q4_k_m.gguf --jinja --port 8080\n"
    "# an Ollama-style server; base URL http://127.0.0.1:11434/v1, model qwen2.5:7b\n"
    "ollama serve & ollama pull qwen2.5:7b"
)

st.title("Research agent")
st.caption(
    "A tool-calling LLM over the workbench (graphs, discovery runs, the runs database, distributions). "
    "It needs a tool-capable OpenAI-compatible model; the embedded model cannot call tools."
)
base_url = st.text_input("Base URL (blank: OPENAI_BASE_URL, else api.openai.com)", "") or None
# A URL typed here never receives the environment's OPENAI_API_KEY (unless it is OPENAI_BASE_URL's own):
# it gets the key typed below, kept in this process's memory only, or none.
api_key = st.text_input(
    "API key for this server (kept in memory only; blank: none, or OPENAI_API_KEY for OPENAI_BASE_URL)",
    type="password",
)
model = st.text_input("Model", "gpt-4o-mini")
if base_url is None and not os.environ.get("OPENAI_BASE_URL") and not os.environ.get("OPENAI_API_KEY"):
    st.info(
        "No model server is configured. Start one with a tool-calling model on this machine, then give its "
        "URL above (and its model name), or call the tools by hand below."
    )
    st.code(SERVER_LINES, language="bash")
history = st.session_state.setdefault("agent_history", [])
# What the model wrote is shown as text, never as Markdown: an image link in a reply would have the
# browser fetch it from any server the model (or text it read) names.
for turn in history:
    with st.chat_message("user"):
        st.text(turn["question"])
    with st.chat_message("assistant"):
        for call in turn["tool_calls"]:
            with st.expander(f"tool: {plain(call['name'])}"):
                st.code(json.dumps(call["arguments"], indent=2), language="json")
                st.code(call["result"][:4000])
        if turn["note"]:
            st.caption(plain(turn["note"]))
        st.text(turn["answer"])
question = st.chat_input("Ask, e.g. 'How does uncertainty selection do on asia with a 0.7 expert?'")
if question:
    set_api_key(base_url or default_base_url(), api_key)  # blank forgets a key typed before
    try:
        with st.spinner("thinking ..."):
            answer = ask_agent(question, AgentSettings(base_url=base_url, model=model))
    except DiscolabError as err:
        st.error(plain(err))
    else:
        history.append({"question": question, **answer.as_dict()})
        st.rerun()


def tools_by_hand() -> None:
    """Every tool the agent has, with its arguments as a form: the workbench without a model."""
    import discolab.agents.tools.builtin  # noqa: F401  (registers the tools)
    from discolab.agents.tools.registry import REGISTRY, ToolError, call_tool

    names = sorted(REGISTRY)
    name = st.selectbox("Tool", names, index=names.index("list_graphs"), key="tool-name")
    tool = REGISTRY[name]
    st.caption(plain(tool.description + (" (heavy: trains or runs long; one at a time)" if tool.heavy else "")))
    schema = tool.schema()["function"]["parameters"]
    with st.expander("JSON schema of the arguments"):
        st.json(schema)
    try:
        arguments = tool_form(name, schema)
    except ValueError as err:
        st.error(plain(err))
        return
    if st.button("Call", key="tool-call"):
        try:
            with st.spinner(f"running {name} ..."):
                result = call_tool(name, arguments)
        except ToolError as err:
            st.error(plain(err))
        else:
            st.session_state["tool-result"] = (name, arguments, result)
    if st.session_state.get("tool-result", (None,))[0] == name:
        _, called, result = st.session_state["tool-result"]
        st.caption(plain(f"{name}({json.dumps(called)})"))
        st.code(json.dumps(result, indent=2, default=str)[:20000], language="json")


with st.expander("Tools by hand", expanded=base_url is None and not os.environ.get("OPENAI_API_KEY")):
    tools_by_hand()
