"""DDEQ: accuracy and parameters against PointNet, the forward flow's convergence, and a cloud with its particles."""

import streamlit as st
import torch
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB
from discolab.ui.study_panel import study_panel
from discolab.ui.views import plain

st.title("DDEQ: distributional deep equilibrium models")
st.caption(
    "The latent is a set of particles. The forward pass moves them down the MMD (smoothed energy "
    "distance) gradient toward f(Z; X), re-evaluating the target each step, until Z and f(Z; X) agree "
    "as measures; f attends over the input points, over the particles and from particles to points, "
    "so predictions do not depend on point order (Geuter et al. 2025). Sweep: `discolab ddeq eval`."
)

db = RunsDB()
from discolab.experiments.ddeq_eval import (  # noqa: E402
    CLASSIFY,
    COMPLETE,
    classification_table,
    completion_table,
    figure,
    trace_table,
    verdict,
)

present = set(db.experiments()["experiment"])
quick = CLASSIFY not in present and CLASSIFY + "-quick" in present  # the full study's results, when there are any
classify, complete = (CLASSIFY + "-quick", COMPLETE + "-quick") if quick else (CLASSIFY, COMPLETE)
if classify not in present:
    st.info("No DDEQ study in the runs database yet (or `discolab ddeq train` for one model).")
else:
    if quick:
        st.warning("These are the quick study's results: tiny data and 2 epochs, not the figures of docs/ddeq.md.")
    table = classification_table(db, classify)
    st.subheader("Accuracy and parameters (test sets, mean over seeds)")
    for line in verdict(table):
        st.write(line)
    st.dataframe(table.round(4), hide_index=True)
    st.subheader("Forward flow: MMD²(Z, f(Z)) relative to the start, median test cloud")
    st.dataframe(trace_table(db, classify), hide_index=True)
    st.pyplot(figure(db, classify))
    if complete in present:
        st.subheader("Completion (2-D shapes, a quarter of the points cut)")
        st.dataframe(completion_table(db, complete), hide_index=True)
study_panel("ddeq")

st.subheader("A cloud and its particles")
from discolab.core.paths import data_path  # noqa: E402

saved = sorted(data_path("ddeq").glob("*.pt")) if data_path("ddeq").is_dir() else []
if not saved:
    st.info("No trained DDEQ yet: run `discolab ddeq train` (a few minutes).")
    st.stop()

from discolab.core.ddeq.data import remove_disc, shape_clouds, split  # noqa: E402
from discolab.experiments.ddeq_eval import load_model  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

left, right = st.columns(2)
path = left.selectbox("Model", saved, format_func=lambda p: p.stem)
try:
    model, record = load_model(path)
except DiscolabError as err:
    st.error(plain(err))
    st.stop()
completion = model.config.head == "points"
if completion:
    data = split(
        shape_clouds(n_per_class=record["cell"].get("n_per_class", 150), dim=2, seed=record["seed"]),
        seed=record["seed"],
    )[1]
else:
    from discolab.core.ddeq.train import dataset_for

    data = dataset_for(record["cell"], record["seed"])[1]
index = int(right.number_input("Test cloud", 0, len(data) - 1, 0))
cloud = data.subset([index])
mask = cloud.mask
if completion:
    mask = remove_disc(
        cloud.points, cloud.mask, record["metrics"].get("fraction", 0.25), torch.Generator().manual_seed(index)
    )
steps = 4 * model.config.max_steps
path_z, residuals = model.flow_path(cloud.points, mask, steps)
step = st.slider("Flow step", 0, steps, steps)

from matplotlib.figure import Figure  # noqa: E402

fig = Figure(figsize=(10, 3.6))
axes = fig.subplots(1, 3)
points = cloud.points[0][cloud.mask[0]]
ax = axes[0]
if completion:
    kept = cloud.points[0][mask[0]]
    output = model.head(path_z[step][0]).detach()
    ax.scatter(points[:, 0], points[:, 1], s=30, color="lightgray", label="whole cloud")
    ax.scatter(kept[:, 0], kept[:, 1], s=8, label="input (cut)")
    ax.scatter(output[:, 0], output[:, 1], s=12, marker="x", color="tab:red", label="particles -> points")
    ax.legend(fontsize=7)
else:
    ax.scatter(points[:, 0], points[:, 1], s=8)
    with torch.no_grad():
        logits = model.head(path_z[step][0].max(0).values)
    ax.set_xlabel(f"prediction at step {step}: {data.classes[int(logits.argmax())]}")
ax.set_title(f"class {data.classes[int(cloud.labels[0])]}")
ax.set_aspect("equal")
ax = axes[1]  # the particles (R^d) in the 2-D PCA of their whole path
flat = path_z[:, 0].reshape(-1, path_z.shape[-1]).numpy()
projected = PCA(2).fit(flat).transform(flat).reshape(steps + 1, -1, 2)
for particle in range(projected.shape[1]):
    ax.plot(projected[: step + 1, particle, 0], projected[: step + 1, particle, 1], linewidth=0.6, alpha=0.5)
ax.scatter(projected[step, :, 0], projected[step, :, 1], s=14, color="black")
ax.set_title("particles (PCA of their path)")
ax = axes[2]
ax.semilogy((residuals[0] / residuals[0, 0]).numpy())
ax.axvline(step, color="gray", linewidth=0.8)
ax.set_xlabel("flow step")
ax.set_title("MMD²(Z, f(Z)) / start")
fig.tight_layout()
st.pyplot(fig)
st.caption(
    f"{path.name}: trained with seed {record['seed']}; its test metrics: "
    + ", ".join(f"{k} {v:.4g}" for k, v in record["metrics"].items() if isinstance(v, float))
)
