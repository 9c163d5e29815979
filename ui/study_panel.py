"""A page's quick study: a button that starts it in the background (:mod:`discolab.ui.jobs`), its
progress on every rerun with an estimate of the time left, a cancel button, and the full study's
command beside it."""

from __future__ import annotations

import streamlit as st
from discolab.core.errors import DiscolabError
from discolab.ui import jobs
from discolab.ui.views import plain


def study_panel(name: str) -> None:
    study = jobs.STUDIES[name]
    state = jobs.status(name)
    if state is not None and state["status"] == "running":
        _progress(name)
        return
    button, note = st.columns([1, 2])
    if button.button(f"Run the quick study ({study.label})", key=f"study-{name}"):
        try:
            jobs.start(name)
        except (DiscolabError, OSError) as err:
            st.error(plain(err))
        else:
            st.rerun()
    note.caption(
        "The quick study runs in the background with small budgets (its results are marked quick); "
        f"leave the page and come back at will. The full study: `{study.full}`"
    )
    if state is not None and state["status"] in ("failed", "cancelled"):
        message = state.get("error") or state.get("last_line") or ""
        st.warning(plain(f"The last quick study {state['status']} ({message}); the cells it finished are kept."))


@st.fragment(run_every=2.0)
def _progress(name: str) -> None:
    state = jobs.status(name)
    if state is None or state["status"] != "running":
        st.rerun(scope="app")  # finished: the whole page redraws with its results
        return
    left = state["seconds_left"]
    estimate = f", about {left / 60:.0f} min left" if left is not None and left >= 60 else ""
    estimate = estimate or (f", about {left:.0f} s left" if left is not None else "")
    cells = f"{state['done']}/{state['total']} cells" if state["total"] else "starting"
    st.progress(state["fraction"], text=f"quick study running: {cells}{estimate}")
    if st.button("Cancel the quick study", key=f"cancel-{name}"):
        jobs.cancel(name)
        st.rerun(scope="app")
