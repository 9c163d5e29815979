"""S2T2: the five-way comparison on proteins, each tokenizer's compression, and the learned plan P."""

import pandas as pd
import streamlit as st
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB
from discolab.ui.study_panel import study_panel
from discolab.ui.views import plain

st.title("S2T2: sparse Sinkhorn token translation to proteins")
st.caption(
    "SmolLM2 reads protein sequences through a protein BPE tokenizer: each protein token's embedding "
    "is a sparse mixture of SmolLM2 token embeddings, e_t = sum_s P[t, s] e_s, and the next protein token's "
    "probability comes from SmolLM2's next-token distribution through P. P is learned jointly with LoRA on the "
    "body (the s2t2-frozen ablation learns P alone). The unigram baseline (amino-acid frequencies) is the bar "
    "every trained condition has to clear."
)

st.subheader("Comparison (bits per character on held-out proteins, lower is better)")
try:
    from discolab.experiments.s2t2_eval import summary

    st.dataframe(summary(RunsDB()).round(3), hide_index=True)
except DiscolabError:
    st.info(
        "No results yet: run `discolab s2t2 eval --select --settings s2t2.json`, then "
        "`discolab s2t2 eval --settings s2t2.json` (about 10 CPU-hours in all; docs/s2t2.md)."
    )


@st.cache_data(show_spinner="tokenizing the test proteins ...")
def compression() -> pd.DataFrame:
    from discolab.experiments.s2t2_eval import compression_table

    return compression_table()


st.subheader("Compression (residues per token, test proteins)")
st.bar_chart(compression().set_index("tokenizer"), horizontal=True)

st.subheader("The plan P")
from discolab.core.s2t2.conditions import load_plan, plan_mapping, saved_plans  # noqa: E402

plans = saved_plans()
if not plans:
    st.info("No learned plan yet: train one (S2T2, seed 0) in the background, or `discolab s2t2 train`.")
    study_panel("s2t2-plan")
    st.stop()
choice = st.selectbox("Plan", plans, format_func=lambda p: p.parent.name)
try:
    payload = load_plan(choice)
except ValueError as err:
    st.error(plain(err))
    st.stop()
plan = payload["plan"]
nonzeros = (plan > 0).sum(1)
left, middle, right = st.columns(3)
left.metric("protein tokens x SmolLM2 tokens", f"{plan.shape[0]} x {plan.shape[1]}")
middle.metric("nonzeros per row (mean)", f"{nonzeros.float().mean():.1f}")
right.metric("test bits per character", f"{payload['metrics'].get('test_bpc', float('nan')):.3f}")

rows = st.slider("Protein tokens shown (by id: single residues first, then longer merges)", 10, 120, 40)
start = st.number_input("From protein token id", 0, plan.shape[0] - 1, 0)
block = plan[start : start + rows]
used = block.sum(0).topk(min(60, plan.shape[1])).indices.sort().values  # the source tokens this block uses most

from matplotlib.figure import Figure  # noqa: E402

figure = Figure(figsize=(12, 0.18 * len(block) + 1.5))
ax = figure.subplots()
ax.imshow(block[:, used].numpy(), aspect="auto", cmap="Greys", interpolation="nearest")
ax.set_yticks(range(len(block)), payload["target_tokens"][start : start + rows], fontsize=7)
ax.set_xticks(range(len(used)), [payload["source_tokens"][i] for i in used], rotation=90, fontsize=7)
ax.set_xlabel("SmolLM2 tokens (the 60 this block uses most)")
ax.set_ylabel("protein tokens")
figure.tight_layout()
st.pyplot(figure)

token = st.text_input("Which SmolLM2 tokens make up a protein token?", payload["target_tokens"][start])
try:
    (mapping,) = plan_mapping(payload, [token], top=8)
except ValueError as err:
    st.warning(str(err))
else:
    st.write(f"**{mapping['target']}**: {mapping['nonzeros']} nonzeros")
    st.dataframe(pd.DataFrame(mapping["sources"], columns=["SmolLM2 token", "P"]), hide_index=True)
