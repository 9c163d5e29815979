"""Distributions: any sweep in the runs database, per setting across seeds (core/scaling's analysis)."""

import streamlit as st
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB
from discolab.core.scaling import analyze
from discolab.core.scaling.analysis import select_rows
from discolab.core.scaling.plots import report_figure
from discolab.ui.views import plain

st.title("Distributions across seeds")

try:
    db = RunsDB()
    experiments = db.experiments()
except DiscolabError as err:
    st.error(plain(err))
    st.stop()
if experiments.empty:
    st.info("The runs database is empty: run a sweep, e.g. `python -m discolab.experiments.count_task --quick`.")
    st.stop()

experiment = st.selectbox("Experiment", list(experiments["experiment"]))
wide = db.wide(experiment)
numeric = [c for c in wide.columns if wide[c].dtype.kind in "fi" and c not in ("seed",)]
settings = [c for c in wide.columns if c not in numeric and c not in ("config_hash", "seed")] + ["step"]
left, right = st.columns(2)
with left:
    scale = st.selectbox("Scale / setting column", [c for c in wide.columns if c not in ("config_hash", "seed")])
    metric = st.selectbox("Metric", [c for c in numeric if c != scale])
    step = st.selectbox("Step of each run", ["last", "all"], help="all: every step (use step as the scale)")
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
