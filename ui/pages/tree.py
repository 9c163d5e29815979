"""Sometimes I am a tree: which rule a tiny LM learns for question formation, per seed and over training."""

import streamlit as st
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB
from discolab.ui.study_panel import study_panel
from discolab.ui.views import plain, quick_label

st.title("Hierarchical vs linear generalization")
st.caption(
    "Tiny transformer LMs learn question formation from a small English grammar (Qin, Saphra & Alvarez-Melis "
    "2024, 'Sometimes I am a tree'). Training never tells the linear rule (front the first auxiliary) from the "
    "hierarchical one (front the main auxiliary); test questions have a relative clause on the subject, where "
    "they disagree. Does the share of center-embedded training declaratives decide the rule, per seed? "
    "Sweep: `python -m discolab.experiments.tree_eval --seeds 10`."
)

try:
    db = RunsDB()
    experiments = [e for e in db.experiments()["experiment"] if e.startswith("tree")]
except DiscolabError as err:
    st.error(plain(err))
    st.stop()

if experiments:
    from discolab.experiments.tree_eval import (
        EXPERIMENT,
        analyse,
        complexity_effect,
        figure,
        final_table,
        trajectories,
    )

    default = experiments.index(EXPERIMENT) if EXPERIMENT in experiments else 0
    experiment = st.selectbox("Experiment", experiments, index=default, format_func=quick_label)
    trajectory = trajectories(db, experiment)
    final = final_table(trajectory)
    summary = analyse(final)
    st.caption(f"{len(final)} trained models, {final['seed'].nunique()} seeds")
    st.subheader("Outcomes per seed, hierarchical seeds and trajectories")
    st.pyplot(figure(final, trajectory, summary))
    st.subheader("Per condition: distribution over seeds and bimodality")
    columns = ["center_share", "diversity", "seeds", "hierarchical_mean", "hierarchical_std", "linear_mean"]
    columns += ["id_accuracy", "p_hierarchical", "p_low", "p_high", "crossings_mean", "dip_pvalue", "bimodal"]
    st.dataframe(summary[columns].round(3), hide_index=True)
    st.subheader("Does complexity push towards the hierarchical rule?")
    st.caption(
        "Per diversity, each seed one observation: Spearman's rho of the center share vs the final OOD hierarchical "
        "fraction (rc_sv: object-gap items only); one-sided Mann-Whitney p of the largest share above the smallest."
    )
    st.dataframe(complexity_effect(final).round(4), hide_index=True)
    st.subheader("Trajectory of one condition")
    left, right = st.columns(2)
    share = left.selectbox("Center-embedded share", sorted(final["center_share"].unique()))
    diversity = right.selectbox("Templates", sorted(final["diversity"].unique()))
    chosen = trajectory[(trajectory["center_share"] == share) & (trajectory["diversity"] == diversity)]
    chosen = chosen.dropna(subset=["ood_hierarchical"])
    if not chosen.empty:
        wide = chosen.pivot_table(index="step", columns="seed", values="ood_hierarchical")
        wide.columns = [f"seed {s}" for s in wide.columns]
        st.line_chart(wide, x_label="training step", y_label="OOD hierarchical fraction")
else:
    st.info("No tree study in the runs database yet.")
study_panel("tree")

st.subheader("Quick run")
left, middle, right = st.columns(3)
task = left.selectbox("Task", ["question", "tense"])
share = middle.slider("Center-embedded share", 0.0, 1.0, 0.5, 0.05, key="tree_share")
templates = right.number_input("Templates per pool (0: all)", 0, 21, 0)
steps = int(left.number_input("Steps", 10, 20000, 500, key="tree_steps"))
width = int(middle.number_input("d_model", 8, 256, 64, step=8))
seed = int(right.number_input("Seed", 0, 10_000, 0))
if st.button("Train", type="primary"):
    from discolab.core.tree.train import run
    from discolab.experiments.tree_eval import BASE

    config = {**BASE, "task": task, "center_share": share, "n_templates": int(templates) or None, "steps": steps}
    config |= {"d_model": width, "eval_every": max(1, steps // 10)}
    try:
        with st.spinner("training ..."):
            rows = run(config, seed)
    except DiscolabError as err:
        st.error(plain(err))
    else:
        final = {row["metric"]: row["value"] for row in rows if row["step"] == steps}
        a, b, c = st.columns(3)
        a.metric("OOD hierarchical", f"{final['ood_hierarchical']:.3f}")
        b.metric("OOD linear", f"{final['ood_linear']:.3f}")
        c.metric("in-distribution exact", f"{final['id_accuracy']:.3f}")
        curve = {row["step"]: row["value"] for row in rows if row["metric"] == "ood_hierarchical"}
        st.line_chart(list(curve.values()), x_label="evaluation", y_label="OOD hierarchical fraction")
        st.json({k: round(v, 4) if isinstance(v, float) else v for k, v in final.items()})
