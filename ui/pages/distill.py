"""Dataset distillation: soft labels vs hard labels, the label-structure studies, and D3's decoded samples."""

import streamlit as st
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB
from discolab.ui.study_panel import study_panel
from discolab.ui.views import plain

st.title("Dataset distillation")
st.caption(
    "Soft-label baseline (Qin et al. 2024, 'A Label is Worth a Thousand Images'): random real images per class "
    "with an expert checkpoint's soft labels, a student trained from scratch. D3: each class stored as a few "
    "Gaussian latents plus a decoder, trained by MMD on expert features, compared at equal storage. "
    "Sweep: `python -m discolab.experiments.distill_eval --select-temperature`, then `--seeds 5`."
)

try:
    db = RunsDB()
    present = set(db.experiments()["experiment"])
except DiscolabError as err:
    st.error(plain(err))
    st.stop()

from discolab.experiments import distill_eval as ev  # noqa: E402  (after the database check, as the other pages)

quick = st.checkbox("Show the quick study (small budgets)", value=ev.SOFTLABEL not in present and ev.D3 not in present)
suffix = "-quick" if quick else ""
soft = db.wide(ev.SOFTLABEL + suffix) if ev.SOFTLABEL + suffix in present else None
d3 = db.wide(ev.D3 + suffix) if ev.D3 + suffix in present else None
if quick and (soft is not None or d3 is not None):
    st.warning("These are the quick study's results: small budgets, not the figures of docs/distill.md.")
if soft is None and d3 is None:
    st.info(f"No distillation {'quick ' if quick else ''}study in the runs database yet.")
study_panel("distill")
if soft is not None or d3 is not None:
    st.subheader("Curves")
    st.pyplot(ev.figure(soft, d3))
    if soft is not None:
        st.subheader("Soft vs hard labels by images per class")
        st.dataframe(ev.soft_vs_hard(soft).round(3), hide_index=True)
        st.subheader("Soft-label accuracy by expert epoch")
        st.dataframe(ev.epoch_curves(soft).round(3))
        st.subheader("Frontier of the IPC x top-k grid")
        st.dataframe(ev.frontier(ev.topk_grid(soft)).round(3), hide_index=True)
    if d3 is not None:
        st.subheader("Equal storage: D3 vs pixel prototypes vs random real images")
        st.dataframe(ev.d3_summary(d3).round(3), hide_index=True)

st.subheader("Samples decoded from D3 latents")
left, middle, right = st.columns(3)
budget = int(left.selectbox("Budget (images per class)", ev.BUDGETS, index=1))  # ints, as the sweep keys them
subtasks = int(middle.selectbox("Subtasks", [1, 2]))
seed = int(right.number_input("Seed", 0, 10_000, 0, key="distill_seed"))
fresh = int(left.number_input("Fresh samples per latent", 0, 8, 2))
if st.button("Decode (distils first if this setting is not on disk, ~30 s)", type="primary"):
    from discolab.core.distill.budget import distributional_set

    config = {"dataset": "digits", "budget_ipc": budget, "subtasks": subtasks, **ev.D3_ARCH}
    try:
        with st.spinner("distilling ..."):
            distilled = distributional_set(config, seed)
    except DiscolabError as err:
        st.error(plain(err))
    else:
        st.caption(
            f"{distilled.per_class} latents per class; each row (a class): the decoded latent means, then "
            f"{fresh} fresh sample(s) per latent (first 12 shown)"
        )
        st.pyplot(ev.decoded_figure(distilled, fresh, seed))
