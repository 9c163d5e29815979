"""Agent: chat with the research agent; every tool call and its result is shown."""

import json

import streamlit as st
from discolab.agents.research import AgentSettings, ask_agent
from discolab.core.errors import DiscolabError
from discolab.core.llm.credentials import default_base_url, set_api_key
from discolab.ui.views import plain

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
