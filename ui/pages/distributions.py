"""Distributions: any sweep in the runs database, per setting across seeds (core/scaling's analysis)."""

import streamlit as st
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB
from discolab.core.scaling import analyze
from discolab.core.scaling.analysis import select_rows
from discolab.core.scaling.plots import report_figure
from discolab.ui.study_panel import study_panel
from discolab.ui.views import distribution_guide, plain, quick_label

st.title("Distributions across seeds")

try:
    db = RunsDB()
    experiments = db.experiments()
except DiscolabError as err:
    st.error(plain(err))
    st.stop()
if experiments.empty:
    st.info(
        "The runs database is empty. Start with the count task's quick study: small transformers of a few "
        "sizes, three seeds each, whose accuracy you then see spread across seeds at each size."
    )
    study_panel("count-task")
    st.stop()

names = list(experiments["experiment"])
first = next((n for n in names if n.startswith("count-task")), names[0])
experiment = st.selectbox("Experiment", names, index=names.index(first), format_func=quick_label)
wide = db.wide(experiment)
guide = distribution_guide(experiment, wide)
st.info(guide.explanation)
numeric = [c for c in wide.columns if wide[c].dtype.kind in "fi" and c not in ("seed",)]
settings = [c for c in wide.columns if c not in numeric and c not in ("config_hash", "seed")] + ["step"]
left, right = st.columns(2)
with left:
    scales = [c for c in wide.columns if c not in ("config_hash", "seed")]
    scale = st.selectbox("Scale / setting column", scales, index=scales.index(guide.scale))
    metrics = [c for c in numeric if c != scale]
    metric = st.selectbox("Metric", metrics, index=metrics.index(guide.metric) if guide.metric in metrics else 0)
    step = st.selectbox(
        "Step of each run", ["last", "all"], index=["last", "all"].index(guide.step),
        help="all: every step (use step as the scale)",
    )  # fmt: skip
with right:
    use_threshold = st.checkbox("Success by threshold (else the mixture's high component)")
    threshold = st.number_input("Threshold", value=0.5) if use_threshold else None
    where = {}
    for column in [c for c in settings if c not in (scale, "step") and wide[c].nunique() > 1][:6]:
        value = st.selectbox(f"{column} =", ["(any)", *sorted(map(str, wide[column].dropna().unique()))])
        if value != "(any)":
            where[column] = value

try:
    report = analyze(select_rows(wide, where, step), scale, metric, threshold=threshold)
except DiscolabError as err:
    st.error(plain(err))
    st.stop()
st.pyplot(report_figure(report, f"{experiment}: {metric} against {scale}"), clear_figure=True)
st.dataframe(report.settings, hide_index=True)
if report.logistic:
    st.write("Logistic fit of success on log scale:", report.logistic)
if report.sharpness:
    st.write("Sharpness (BIG-bench breakthroughness and linearity):", report.sharpness)
