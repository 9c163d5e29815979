"""Mixture of Parrots: MoE vs dense transformers on memorization and reasoning, from the runs database."""

import streamlit as st
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB
from discolab.ui.study_panel import study_panel
from discolab.ui.views import plain, quick_label

st.title("Mixture of experts: memorization vs reasoning")
st.caption(
    "Small transformers whose feed-forward blocks are dense or a top-1 mixture of E experts "
    "(Jelassi et al. 2024, 'Mixture of Parrots'). At fixed active parameters, do more experts help "
    "phone-book memorization as much as a dense model of equal total parameters, and graph reasoning "
    "only through width? Sweep: `python -m discolab.experiments.moe_eval --seeds 3`."
)

try:
    db = RunsDB()
    experiments = [e for e in db.experiments()["experiment"] if e.startswith("moe")]
except DiscolabError as err:
    st.error(plain(err))
    st.stop()

if experiments:
    from discolab.experiments.moe_eval import EXPERIMENT, analyse, cells_table, figure, verdict

    default = experiments.index(EXPERIMENT) if EXPERIMENT in experiments else 0
    experiment = st.selectbox("Experiment", experiments, index=default, format_func=quick_label)
    table = cells_table(db, experiment)
    summary = analyse(table)
    st.caption(f"{len(table)} trained models, {table['seed'].nunique()} seeds")
    st.subheader("Accuracy vs experts and vs total parameters")
    st.pyplot(figure(table))
    st.subheader("Experts' gain vs a dense model of matched total parameters")
    st.dataframe(verdict(summary).round(3), hide_index=True)
    st.subheader("Per model (mean over seeds)")
    columns = ["task", "family", "d_model", "n_experts", "params_total", "params_active", "accuracy", "accuracy_std"]
    st.dataframe(summary[[*columns, "train_loss", "chance", "seeds"]].round(4), hide_index=True)
    st.subheader("Expert load on the test tokens")
    st.caption("entropy / log E: 1 = uniform, 0 = collapsed onto one expert; max share: 1/E uniform, 1 collapsed")
    load = ["task", "n_experts", "load_entropy", "load_entropy_min", "max_load_fraction", "experts_used"]
    st.dataframe(summary[summary["family"] == "moe"][[*load, "dropped_fraction_train"]].round(4), hide_index=True)
else:
    st.info("No MoE study in the runs database yet.")
study_panel("moe")

st.subheader("Quick run")
left, middle, right = st.columns(3)
task = left.selectbox("Task", ["phonebook", "shortest_path"])
dense = middle.checkbox("Dense (no experts)")
experts = None if dense else int(middle.number_input("Experts", 1, 64, 4))
width = int(right.number_input("d_model", 8, 128, 32, step=8))
steps = int(left.number_input("Steps", 10, 5000, 300, key="moe_steps"))
entries = int(right.number_input("Phone-book entries", 10, 4096, 500)) if task == "phonebook" else None
seed = int(middle.number_input("Seed", 0, 10_000, 0))
if st.button("Train", type="primary"):
    from discolab.core.moe.train import run

    config = {"task": task, "d_model": width, "n_experts": experts, "steps": steps}
    if entries is not None:
        config["n_entries"] = entries
    try:
        with st.spinner("training ..."):
            metrics = run(config, seed)
    except DiscolabError as err:
        st.error(plain(err))
    else:
        st.metric("test accuracy", f"{metrics['accuracy']:.3f}", f"chance {metrics['chance']:.4f}", delta_color="off")
        st.json({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()})
