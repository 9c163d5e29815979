"""CharED: type a prompt, move the weight between two models, see the ensemble beside each model alone."""

import streamlit as st
from discolab.core.errors import DiscolabError
from discolab.ui.views import plain

st.title("CharED: character-wise ensemble decoding")
st.caption(
    "Two local models with different tokenizers are mixed character by character: "
    "J(c | s) = alpha P_A(c | s) + (1 - alpha) P_B(c | s). alpha = 1 is model A alone, alpha = 0 model B."
)
MODELS = ["smollm2", "gemma3-270m"]
left, right = st.columns(2)
model_a = left.selectbox("Model A", MODELS, index=0)
model_b = right.selectbox("Model B", MODELS, index=1)
alpha = st.slider("alpha (weight of model A)", 0.0, 1.0, 0.5, 0.05)
prompt = st.text_area("Prompt", "def fibonacci(n):\n    ")
max_chars = st.number_input("Characters to generate", 1, 400, 60)
seed = st.number_input("Seed (0: greedy)", 0, 10_000, 0)

if st.button("Generate", type="primary"):
    from discolab.core.chared.decode import CharEDModel, generate

    try:
        with st.spinner("loading models and decoding ..."):
            models = [CharEDModel(model_a), CharEDModel(model_b)]
            runs = [
                (f"A: {model_a} alone", [1.0, 0.0]),
                (f"ensemble, alpha = {alpha:.2f}", [alpha, 1.0 - alpha]),
                (f"B: {model_b} alone", [0.0, 1.0]),
            ]
            outputs = [
                (label, generate(prompt, models, weights, max_chars=int(max_chars), seed=int(seed) or None))
                for label, weights in runs
            ]
    except (DiscolabError, ValueError) as err:
        st.error(plain(err))
    else:
        for column, (label, result) in zip(st.columns(3), outputs):
            column.markdown(f"**{label}**")
            column.code(prompt + result.text)
            column.caption(f"{len(result.segments)} segments, {result.chars_per_second:.1f} characters/s")
