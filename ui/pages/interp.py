"""Interpolation: attribute sliders over LoRA anchors, live generation and its attribute scores."""

import pandas as pd
import streamlit as st
from discolab.core.interp.anchors import anchors_dir
from discolab.core.interp.scorers import ATTRIBUTES, normalized
from discolab.core.paths import data_path
from discolab.ui.study_panel import study_panel
from discolab.ui.views import plain

st.title("Interpolation: attribute sliders")
st.caption(
    "One LoRA adapter per attribute pole on SmolLM2-135M-Instruct; the model runs with "
    "dW = sum_i lambda_i [alpha_i dW_i+ + (1 - alpha_i) dW_i-]. alpha = 1 is the high pole "
    "(positive, formal, simple), 0 the low pole; outside [0, 1] extrapolates. Moving a slider "
    "rescales the adapters in place: no retraining, no reloading."
)
anchors_seed = int(st.number_input("Anchors seed", 0, 1000, 0))
folder = anchors_dir(anchors_seed)

if not (folder / "anchors.json").is_file():
    st.info(f"No trained anchors for seed {anchors_seed} yet ({folder}).")
    if anchors_seed == 0:
        st.caption("Quick anchors: 6 topics x 2 texts, 3 epochs, trained in the background.")
        study_panel("interp-anchors")
    else:
        st.caption(f"Train them with `discolab interp train --seed {anchors_seed}` (about 15 minutes).")
    st.stop()

st.subheader("Sliders")
alphas, lambdas = {}, {}
for column, attribute in zip(st.columns(len(ATTRIBUTES)), ATTRIBUTES):
    high, low = ATTRIBUTES[attribute]
    alphas[attribute] = column.slider(f"{attribute}: {low} (0) to {high} (1)", -1.0, 2.0, 0.5, 0.25)
    lambdas[attribute] = column.slider(f"lambda {attribute}", 0.0, 1.0, 1.0, 0.1)
prompt = st.text_input("Prompt", "Write two or three sentences about a village fair.")
left, right, live_column = st.columns(3)
seed = int(left.number_input("Seed (0: greedy)", 0, 10_000, 0))
max_tokens = int(right.number_input("New tokens", 1, 200, 60))
live = live_column.checkbox("Generate as sliders move", value=True)

if sum(lambdas.values()) <= 0:
    st.warning("Give at least one attribute a lambda above 0.")
elif live or st.button("Generate", type="primary"):
    from discolab.core.interp.interpolate import steer

    try:
        with st.spinner("generating ..."):
            result = steer(
                prompt, alphas, lambdas, seed=seed or None, anchors_seed=anchors_seed, max_new_tokens=max_tokens
            )
    except (ValueError, FileNotFoundError) as err:
        st.error(plain(err))
    else:
        st.markdown("**Output**")
        st.text(result["text"])  # model output as text: Markdown could fetch remote images
        bars = pd.DataFrame(
            {"score (0 = low pole, 1 = high pole)": {k: normalized(k, v) for k, v in result["scores"].items()}}
        )
        st.bar_chart(bars, horizontal=True)
        st.caption("raw scores: " + ", ".join(f"{k} {v:.2f}" for k, v in result["scores"].items()))

curves = data_path("results", "interp_response.png")
if curves.is_file():
    st.subheader("Response curves (from the experiment)")
    st.image(str(curves))
