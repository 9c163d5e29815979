"""Agent: chat with the research agent; every tool call and its result is shown."""

import json

import streamlit as st
from discolab.agents.research import AgentSettings, ask_agent
from discolab.core.errors import DiscolabError

st.title("Research agent")
st.caption(
    "A tool-calling LLM over the workbench (graphs, discovery runs, the runs database, distributions). "
    "It needs a tool-capable OpenAI-compatible model; the embedded model cannot call tools."
)
base_url = st.text_input("Base URL (blank: api.openai.com with OPENAI_API_KEY)", "") or None
model = st.text_input("Model", "gpt-4o-mini")
history = st.session_state.setdefault("agent_history", [])
for turn in history:
    with st.chat_message("user"):
        st.write(turn["question"])
    with st.chat_message("assistant"):
        for call in turn["tool_calls"]:
            with st.expander(f"tool: {call['name']}"):
                st.code(json.dumps(call["arguments"], indent=2), language="json")
                st.code(call["result"][:4000])
        if turn["note"]:
            st.caption(turn["note"])
        st.write(turn["answer"])
question = st.chat_input("Ask, e.g. 'How does uncertainty selection do on asia with a 0.7 expert?'")
if question:
    try:
        with st.spinner("thinking ..."):
            answer = ask_agent(question, AgentSettings(base_url=base_url, model=model))
    except DiscolabError as err:
        st.error(str(err))
    else:
        history.append({"question": question, **answer.as_dict()})
        st.rerun()
