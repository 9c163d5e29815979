"""Discover: run IGDA on a benchmark or an uploaded graph, watch it, answer its questions, step through rounds."""

from functools import partial
from pathlib import Path

import streamlit as st
from discolab.agents.discovery import (
    DiscoverySettings,
    list_runs,
    load_run,
    resume_discovery,
    round_states,
    start_discovery,
)
from discolab.agents.discovery.nodes import run_graph
from discolab.agents.discovery.results import edge_records, export_run, no_discrete_data
from discolab.core.errors import DiscolabError
from discolab.core.graphs import BENCHMARKS, GraphSpec, resolve_graph
from discolab.core.graphs.export import FORMATS
from discolab.core.graphs.uploads import store_data_upload, store_upload
from discolab.core.igda.fusion import describe_weights
from discolab.core.igda.selection import STRATEGIES
from discolab.core.igda.updates import UPDATES
from discolab.core.llm.base import Usage
from discolab.core.llm.credentials import default_base_url, set_api_key
from discolab.core.llm.openai_backend import CONFIDENCE_MODES, resolve_server_settings
from discolab.ui.graph_view import answer_from_selection, interactive_graph, stable_positions
from discolab.ui.views import (
    comparison_chart,
    comparison_frame,
    metrics_chart,
    plain,
    weights_chart,
)

st.title("Discover")


def graph_choice() -> str | None:
    source = st.radio("Graph", ["benchmark", "upload a graph file"], horizontal=True)
    if source == "benchmark":
        name = st.selectbox("Benchmark", list(BENCHMARKS), index=list(BENCHMARKS).index("asia"))
        return f"{name}-renamed" if st.checkbox("renamed variables (memorisation control)") else name
    upload = st.file_uploader("Graph file (JSON or YAML, see the README's format)", type=["json", "yaml", "yml"])
    if upload is None:
        return None
    try:  # kept under its content hash: the browser's file name is never a path
        path, spec = store_upload(upload.name, upload.getvalue())
    except DiscolabError as err:
        st.error(plain(err))
        return None
    st.caption(
        plain(f"{spec.name}: {len(spec.variables)} variables" + (", true edges known" if spec.has_truth else ""))
    )
    return str(path)


def server_form() -> dict:
    """The openai backend's settings, prefilled from the environment (DISCOLAB_OPENAI_*) or the defaults."""
    try:
        default = resolve_server_settings()
    except DiscolabError as err:  # a bad environment variable: say so, and offer the plain defaults
        st.warning(plain(err))
        default = {"timeout": 60.0, "concurrency": 8, "samples": 5, "confidence": "auto"}
    with st.expander("Server settings (a slow server gets fewer requests at a time by itself)"):
        return {
            "timeout": st.number_input("Timeout per request (s)", 1.0, 3600.0, float(default["timeout"])),
            "concurrency": st.number_input("Most requests in flight", 1, 64, int(default["concurrency"])),
            "samples": st.number_input("Sampled answers per question (without logprobs)", 1, 20, default["samples"]),
            "confidence": st.selectbox(
                "Confidence from", CONFIDENCE_MODES, index=CONFIDENCE_MODES.index(default["confidence"])
            ),
        }


def data_upload(label: str, key: str) -> str | None:
    """A data table uploaded for this run, kept under its content hash; its stored path."""
    upload = st.file_uploader(label, type=["csv", "tsv", "parquet"], key=key)
    if upload is None:
        return None
    try:
        return str(store_data_upload(upload.name, upload.getvalue()))
    except DiscolabError as err:
        st.error(plain(err))
        return None


def knowledge_form(spec: GraphSpec) -> tuple[tuple, tuple]:
    """Edges known present or absent, added to the graph file's own knowledge for this run."""
    pairs = spec.ordered_pairs()
    options = list(range(len(pairs)))  # by index: a widget's options are best plain values

    def label(i: int) -> str:
        return f"{pairs[i][0]} -> {pairs[i][1]}"

    with st.expander("Background knowledge (known edges are never asked, tested or dropped)"):
        if spec.knowledge:
            st.text(f"from the graph file: {len(spec.knowledge.known(spec.names))} pairs known")
        required = st.multiselect("Edges known present", options, format_func=label, key="required")
        forbidden = st.multiselect("Edges known absent", options, format_func=label, key="forbidden")
    return tuple(pairs[i] for i in required), tuple(pairs[i] for i in forbidden)


def settings_form(graph: str) -> DiscoverySettings | None:
    columns = st.columns(3)
    with columns[0]:
        choices = ["simulated", "llm", "pc", "ges", "bootstrap"]
        first = st.selectbox("Prior", choices, help="simulated: an expert of set F1; pc / ges / bootstrap: from data")
        more = st.multiselect(
            "Fused with (weights learned from the answers)",
            [c for c in choices if c != first],
            help="several sources pooled on the log-odds scale; each round refits how far to trust each",
        )
        sources = [first, *more]
        if "simulated" in sources:
            quality = st.slider("Simulated expert quality (F1)", 0.5, 1.0, 0.7, 0.05)
            sources = [f"simulated:{quality}" if s == "simulated" else s for s in sources]
        prior = "+".join(sources)
        backend = st.selectbox("LLM backend", ["local", "openai"])
        base_url = st.text_input("Base URL (openai backend)", "") or None
        api_key = st.text_input(
            "API key for this base URL",
            "",
            type="password",
            help="Kept in this dashboard's memory only. The environment's OPENAI_API_KEY goes only to the "
            "environment's OPENAI_BASE_URL, never to a URL typed here.",
        )
        st.session_state["typed_key"] = (base_url or default_base_url(), api_key)  # given to the server on Run
        model = st.text_input("Model (blank: default)", "") or None
        server = server_form() if backend == "openai" else {}
    with columns[1]:
        strategy = st.selectbox("Strategy", STRATEGIES)
        explore = st.slider("Share of experiments picked at random (explore)", 0.0, 1.0, 0.0, 0.05)
        update = st.selectbox("Update", UPDATES, index=list(UPDATES).index("structural"))
        experimenter = st.selectbox(
            "Experimenter",
            ["oracle", "noisy", "interventional", "your interventional data", "human"],
            help="interventional: simulated on a benchmark; your data: a table with an 'intervention' column",
        )
        if experimenter == "noisy":
            experimenter = f"noisy:{st.slider('Flip probability', 0.0, 0.5, 0.1, 0.05)}"
        if experimenter == "your interventional data":
            table = data_upload("Interventional data (CSV or Parquet, with an 'intervention' column)", "interventions")
            experimenter = f"data:{table}" if table else None
    with columns[2]:
        per_round = st.number_input("Experiments per round (I)", 1, 50, 2)
        rounds = st.number_input("Rounds (R)", 0, 50, 4)
        seed = st.number_input("Seed", 0, 10_000, 0)
    try:
        spec = resolve_graph(graph)
        required, forbidden = knowledge_form(spec)
        if spec.data:  # a file beside an uploaded graph file is not uploaded with it
            named = Path(spec.data).name
            data = data_upload(f"Observational data (the graph file names {named}: upload it here)", "observations")
        else:
            data = data_upload("Observational data for pc / ges / bootstrap (CSV or Parquet; optional)", "observations")
        waiting = ["the interventional data table"] if experimenter is None else []
        waiting += [f"the graph file's data ({Path(spec.data).name})"] if spec.data and not data else []
        if waiting:
            st.info(plain(f"Upload {' and '.join(waiting)} to run."))
            return None
        return DiscoverySettings(
            graph=graph,
            data=data,
            required=required,
            forbidden=forbidden,
            prior=prior,
            backend=backend,
            base_url=base_url,
            **{f"llm_{key}": value for key, value in server.items()},
            model=model,
            strategy=strategy,
            explore=explore,
            update=update,
            experimenter=experimenter,
            rounds=int(rounds),
            per_round=int(per_round),
            seed=int(seed),
        )
    except DiscolabError as err:
        st.error(plain(err))
        return None


def run_with_progress(settings: DiscoverySettings) -> None:
    bar = st.progress(0.0, text="eliciting the prior ...")

    def on_event(event):
        record = event.get("record")
        if record is not None:
            f1 = "n/a" if record["f1"] is None else f"{record['f1']:.3f}"
            bar.progress(record["round"] / max(settings.rounds, 1), text=f"round {record['round']}: F1 {f1}")

    try:
        run = start_discovery(settings, on_event=on_event)
    except DiscolabError as err:
        st.error(plain(err))
        return
    st.session_state["run_id"] = run.run_id


def human_question(run_id: str) -> bool:
    run = load_run(run_id)
    if run.question is None:
        return False
    question = run.question
    st.warning("Experiment needed: " + plain(question["question"]))
    # Names and descriptions come from the user's file: shown as text, never as Markdown.
    st.text(f"{question['edge'][0]}: {question['cause']}\n{question['edge'][1]}: {question['effect']}")
    yes, no = st.columns(2)
    answer = True if yes.button("Yes", key="answer-yes") else False if no.button("No", key="answer-no") else None
    if answer is not None:
        answer_question(run_id, answer)
    return True


def answer_question(run_id: str, answer: bool) -> None:
    """Resume the run waiting for a person with ``answer`` (from a button or a click on the graph)."""
    try:
        resume_discovery(run_id, answer=answer)
    except DiscolabError as err:
        st.error(plain(err))
    st.rerun()


def show_run(run_id: str) -> None:
    run = load_run(run_id)
    status = (
        "waiting for an answer" if not run.done else f"{run.values.get('round', 0)} of {run.settings.rounds} rounds"
    )
    st.subheader(f"Run {run_id} ({status})")
    if run.settings.prior.startswith("simulated"):
        st.caption("Prior: a simulated expert (controlled study), not an LLM.")
    for label, key in (("Data", "data"), ("Interventions", "interventions")):
        if run.values.get(key):
            st.caption(plain(f"{label}: {run.values[key]['summary']}"))
    if run.values.get("llm", {}).get("calls") or run.values.get("llm", {}).get("cache_hits"):
        st.caption(plain("LLM: " + Usage(**run.values["llm"]).describe()))
    waiting = human_question(run_id)
    if not waiting and run.values.get("round", 0) < run.settings.rounds and st.button("Resume this run"):
        with st.spinner("resuming ..."):
            try:
                resume_discovery(run_id)
            except DiscolabError as err:
                st.error(plain(err))
        st.rerun()
    states = round_states(run_id)
    chosen = max(states)
    if len(states) > 1:
        chosen = st.select_slider("Round", options=list(states), value=max(states))
    show_truth = st.toggle("Show true edges", value=True)
    pending = tuple(run.question["edge"]) if run.question is not None and chosen == max(states) else None
    left, right = st.columns([3, 2])
    with left:
        graph_panel(run_id, states, chosen, show_truth, pending)
    with right:
        st.altair_chart(metrics_chart(run.history), width="stretch")
        st.dataframe(
            [{k: r[k] for k in ("round", "experiments", "precision", "recall", "f1", "shd")} for r in run.history],
            hide_index=True,
        )
    if "fusion" in run.history[-1]:
        st.caption(
            "Fused prior: how far each source is trusted, refitted to the answers after every round "
            "(band: 95% interval; 0 = ignored, below 0 = reversed)"
        )
        st.altair_chart(weights_chart(run.history), width="stretch")
        st.text("\n".join(describe_weights(run.history[-1]["fusion"], run.history[-1]["experiments"])))
    export_download(run_id, chosen, states[chosen])  # full width: six buttons with their names


def graph_panel(run_id: str, states: dict, chosen: int, show_truth: bool, pending: tuple | None) -> None:
    """The interactive graph with its filters; a pending question is answered by a click on it."""
    has_truth = run_graph(states[chosen]).has_truth
    threshold, tested, true = st.columns(3)
    min_belief = threshold.slider("Beliefs from", 0.0, 1.0, 0.5, 0.05, key="graph-min-belief")
    tested_only = tested.toggle("Tested edges only", key="graph-tested-only")
    true_only = true.toggle("True edges only", key="graph-true-only", disabled=not (has_truth and show_truth))
    layouts = st.session_state.setdefault("graph-layouts", {})
    if run_id not in layouts:  # one layout per run: nodes stay put while the round changes
        seed = DiscoverySettings.from_dict(states[min(states)]["settings"]).seed
        layouts[run_id] = stable_positions(states, seed=seed)
    records = edge_records(states, chosen)  # with every round's updates in the provenance
    figure = interactive_graph(
        states[chosen], layouts[run_id], records, min_belief, tested_only, true_only, show_truth, pending
    )
    key = f"graph-{run_id}-{chosen}-{'-'.join(pending) if pending else ''}"
    event = st.plotly_chart(figure, key=key, on_select="rerun", selection_mode="points", width="stretch")
    st.caption(
        "Hover on a variable for its description, on an edge's dot for its belief, where it came from and the "
        "question asked. Green: confirmed, red: ruled out, grey: true edges the run does not hold."
        + (" The orange edge is the question waiting: click Yes or No beside it." if pending else "")
    )
    answer = answer_from_selection((event or {}).get("selection", {}).get("points", [])) if pending else None
    if answer is not None:
        answer_question(run_id, answer)


def compare_runs(ids: list[str], labels: dict[str, str]) -> None:
    """Several runs' F1 or SHD against experiments spent on one chart, their settings in a table;
    runs differing only in the seed can be drawn as one setting with a band."""
    chosen = st.multiselect("Runs to compare", ids, format_func=labels.get, key="compare-runs")
    if not chosen:
        st.caption("Pick two or more runs: their curves share one chart, their settings one table.")
        return
    metric = st.radio("Metric", ["f1", "shd"], horizontal=True, format_func=str.upper, key="compare-metric")
    by_setting = st.toggle("Seeds of one setting as a band", key="compare-band")
    runs = {}
    for run_id in chosen:
        run = load_run(run_id)
        runs[run_id] = (run.settings.as_dict(), run.history)
    curves, table = comparison_frame(runs)
    if curves[metric].isna().all():
        st.info("These runs have no true graph, so there is no F1 or SHD to compare.")
    else:
        st.altair_chart(comparison_chart(curves, metric, by_setting), width="stretch")
    st.dataframe(table, hide_index=True)


def export_download(run_id: str, round_number: int, values: dict) -> None:
    """The graph shown, in every format other tools read; each file is made when its button is
    clicked (JSON keeps every edge's provenance; BIF, made acyclic, needs discrete data)."""
    acyclic = st.checkbox("drop the weakest untested edges that close cycles", key="export-acyclic")
    missing = no_discrete_data(values)
    for column, fmt in zip(st.columns(len(FORMATS)), FORMATS):
        column.download_button(
            fmt,
            partial(exported_text, run_id, fmt, round_number, acyclic or fmt == "bif"),
            file_name=f"{run_id}-round-{round_number}.{fmt}",
            disabled=fmt == "bif" and missing is not None,
            help=missing if fmt == "bif" else None,
            on_click="ignore",
        )


def exported_text(run_id: str, fmt: str, round_number: int, acyclic: bool) -> str:
    return export_run(run_id, fmt, round_number, acyclic)[0]


with st.expander("New run", expanded=True):
    graph = graph_choice()
    settings = settings_form(graph) if graph else None
    if st.button("Run", type="primary", disabled=settings is None) and settings is not None:
        if settings.backend == "openai":  # a blank key forgets one typed before
            set_api_key(*st.session_state["typed_key"])
        run_with_progress(settings)

try:
    past = list_runs()
except DiscolabError as err:
    st.error(plain(err))
    past = []
if past:
    ids = [r["run_id"] for r in past]
    labels = {
        r["run_id"]: f"{r['run_id']}: cannot be read"
        if "error" in r
        else f"{r['run_id']}: {r['graph']}, {r['prior']}, {r['strategy']}, "
        f"{r['rounds_done']}/{r['rounds']} rounds" + (" (waiting)" if r["waiting"] else "")
        for r in past
    }
    current = st.session_state.get("run_id")
    picked = st.selectbox("Runs", ids, index=ids.index(current) if current in ids else 0, format_func=labels.get)
    st.session_state["run_id"] = picked
    with st.expander("Compare runs"):
        compare_runs([r["run_id"] for r in past if "error" not in r], labels)

if "run_id" in st.session_state:
    try:
        show_run(st.session_state["run_id"])
    except DiscolabError as err:
        st.error(plain(err))
