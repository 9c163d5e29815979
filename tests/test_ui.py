"""Every dashboard page under streamlit's AppTest: it loads, its controls work, a discovery runs
and draws its graph, a human-in-the-loop question is answered through the page."""

import pytest
from conftest import REPO
from discolab.core.runs import RunsDB
from streamlit.testing.v1 import AppTest

PAGES = REPO / "ui" / "pages"


def page(name: str) -> AppTest:
    app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=180)
    app.run()
    assert not app.exception, app.exception
    return app


def button(app: AppTest, label: str):
    return next(b for b in app.button if b.label == label)


def kinds(app: AppTest) -> list[str]:
    found = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            found.append(getattr(child, "type", ""))
            walk(child)

    walk(app._tree)
    return found


def test_app_entry_point_loads_the_discover_page():
    app = AppTest.from_file(str(REPO / "ui" / "app.py"), default_timeout=60)
    app.run()
    assert not app.exception and app.title[0].value == "Discover"


def test_discover_runs_a_simulated_discovery_and_draws_it():
    app = page("discover")
    app.selectbox[0].set_value("asia")
    app.number_input[1].set_value(3)  # rounds
    button(app, "Run").click().run()
    assert not app.exception and not app.error
    assert "(3 of 3 rounds)" in app.subheader[0].value
    assert any("simulated expert" in c.value for c in app.caption)
    found = kinds(app)
    assert "plotly_chart" in found and "vega_lite_chart" in found
    assert len(app.dataframe[0].value) == 4  # rounds 0..3
    app.select_slider[0].set_value(0).run()  # step back to the prior
    assert not app.exception and "plotly_chart" in kinds(app)
    app.toggle(key="graph-tested-only").set_value(True).run()
    app.slider(key="graph-min-belief").set_value(0.9).run()
    assert not app.exception and "plotly_chart" in kinds(app)
    assert kinds(app).count("download_button") == 6  # json, dot, graphml, gml, dagitty, bif (asia has data)


def test_runs_are_compared_on_one_chart_and_seeds_drawn_as_a_band():
    from discolab.agents.discovery import DiscoverySettings, start_discovery

    ids = [
        start_discovery(
            DiscoverySettings(graph="cancer", prior="simulated:0.7", update="none", rounds=2, seed=s)
        ).run_id
        for s in (0, 1)
    ]
    ids.append(
        start_discovery(DiscoverySettings(graph="cancer", prior="simulated:0.7", strategy="random", rounds=2)).run_id
    )
    app = page("discover")
    compare = next(m for m in app.multiselect if m.label == "Runs to compare")
    compare.set_value(ids).run()
    assert not app.exception
    table = next(d.value for d in app.dataframe if "strategy" in d.value.columns)
    assert list(table["run"]) == ids and list(table["strategy"]) == ["uncertainty", "uncertainty", "random"]
    charts = len([k for k in kinds(app) if k == "vega_lite_chart"])
    assert charts == 2  # the run shown and the comparison
    next(t for t in app.toggle if t.label == "Seeds of one setting as a band").set_value(True).run()
    next(r for r in app.radio if r.label == "Metric").set_value("shd").run()
    assert not app.exception and len([k for k in kinds(app) if k == "vega_lite_chart"]) == charts


def test_the_comparison_groups_seeds_of_one_setting():
    from discolab.ui.views import comparison_frame

    history = [{"experiments": 0, "f1": 0.5, "shd": 3}, {"experiments": 2, "f1": 0.7, "shd": 2}]
    settings = {"graph": "asia", "prior": "pc", "strategy": "uncertainty", "update": "llm", "experimenter": "oracle"}
    curves, table = comparison_frame(
        {
            "a": ({**settings, "seed": 0}, history),
            "b": ({**settings, "seed": 1}, history),
            "c": ({**settings, "prior": "llm"}, history),
        }
    )
    assert curves.groupby("setting")["run"].nunique().sort_values().tolist() == [1, 2]
    assert len(table) == 3 and set(table["seed"].dropna()) == {0, 1}


def test_a_fused_prior_runs_in_the_page_and_charts_its_weights():
    app = page("discover")
    app.selectbox[0].set_value("cancer")
    next(m for m in app.multiselect if m.label.startswith("Fused with")).set_value(["pc"]).run()
    app.number_input[1].set_value(2)  # rounds
    button(app, "Run").click().run()
    assert not app.exception and not app.error
    assert kinds(app).count("vega_lite_chart") == 2  # the metrics and the weights
    weights = next(t.value for t in app.text if t.value.startswith("fused prior"))
    assert "simulated:0.7" in weights and "pc" in weights and "AUROC" in weights


def test_knowledge_added_in_the_page_reaches_the_run():
    from discolab.agents.discovery import load_run
    from discolab.core.graphs import load_benchmark

    app = page("discover")
    app.selectbox[0].set_value("cancer")
    pairs = load_benchmark("cancer").ordered_pairs()
    present = next(m for m in app.multiselect if m.label == "Edges known present")
    present.set_value([pairs.index(("Pollution", "Cancer"))])
    next(m for m in app.multiselect if m.label == "Edges known absent").set_value([pairs.index(("Cancer", "Smoker"))])
    button(app, "Run").click().run()
    assert not app.exception and not app.error
    run = load_run(app.session_state["run_id"])
    assert run.settings.required == (("Pollution", "Cancer"),) and run.settings.forbidden == (("Cancer", "Smoker"),)
    prior = dict(zip(map(tuple, run.values["pairs"]), run.values["prior_beliefs"]))
    assert prior[("Pollution", "Cancer")] == 1.0 and prior[("Cancer", "Smoker")] == 0.0


def test_human_in_the_loop_question_is_answered_in_the_page():
    app = page("discover")
    experimenter = next(s for s in app.selectbox if s.label == "Experimenter")
    experimenter.set_value("human")
    app.number_input[0].set_value(1)  # per round
    app.number_input[1].set_value(2)  # rounds
    button(app, "Run").click().run()
    assert "Experiment needed" in app.warning[0].value
    button(app, "Yes").click().run()
    assert "Experiment needed" in app.warning[0].value  # round 2's question
    button(app, "No").click().run()
    assert not app.warning and "(2 of 2 rounds)" in app.subheader[0].value


def test_invalid_settings_show_an_error_and_the_page_keeps_running():
    app = page("discover")
    app.text_input[0].set_value("not a url")  # harmless; the backend is not used by a simulated prior
    app.radio[0].set_value("upload a graph file").run()
    assert not app.exception  # the uploader waits for a file; no run button click possible yet


def test_distributions_page_analyses_a_sweep():
    db = RunsDB()
    for size, base in ((1, 0.1), (2, 0.5), (4, 0.9)):
        for seed in range(6):
            db.record("ui-demo", {"size": size}, seed, {"acc": base + 0.01 * seed})
    app = page("distributions")
    app.selectbox[0].set_value("ui-demo").run()
    app.selectbox[1].set_value("size").run()
    assert not app.exception and not app.error
    assert "image" in kinds(app) and len(app.dataframe[0].value) == 3


def test_agent_page_says_plainly_when_no_model_is_configured(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = page("agent")
    app.chat_input[0].set_value("Which graphs are there?").run()
    assert not app.exception
    assert "needs a tool-capable OpenAI-compatible model" in app.error[0].value.replace("\\", "")


def test_agent_page_shows_what_the_model_wrote_as_text_not_markdown(monkeypatch):
    """A reply with an image link would have the browser fetch it from the model's server of choice."""
    import discolab.agents.research as research

    reply = "Done. ![chart](http://collector.invalid/x.png?q=secret)"

    class Scripted:
        def as_dict(self):
            return {
                "answer": reply,
                "note": "",
                "tool_calls": [{"name": "list_graphs", "arguments": {}, "result": "[]"}],
            }

    monkeypatch.setattr(research, "ask_agent", lambda question, settings: Scripted())
    app = page("agent")
    app.chat_input[0].set_value("Which graphs are there?").run()
    assert not app.exception
    assert reply in [t.value for t in app.text]
    assert not any("](http" in m.value for m in app.markdown)


@pytest.mark.parametrize("name", ["discover", "distributions", "agent", "moe"])
def test_every_page_loads(name):
    page(name)


def test_ddeq_page_shows_a_saved_model_with_its_particles(discolab_home):
    from discolab.core.ddeq.model import DDEQ, DDEQConfig
    from discolab.experiments.ddeq_eval import model_path, save_model

    model = DDEQ(DDEQConfig(point_dim=2, n_outputs=10, max_steps=5))
    path = model_path("digits", 7)
    save_model(model, path, {"data": "digits", "model": "ddeq"}, 7, {"accuracy": 0.5})
    app = page("ddeq")
    app.selectbox[0].set_value(path).run()  # other tests may have saved models too
    assert not app.exception
    assert app.slider[0].max == 20 and "image" in kinds(app)  # 4x the training steps of the flow
    assert "seed 7" in app.caption[-1].value and "accuracy 0.5" in app.caption[-1].value


def test_s2t2_page_shows_compression_and_a_saved_plan(discolab_home):
    from types import SimpleNamespace

    import torch
    from discolab.core.s2t2.conditions import S2T2Config, plan_dir, save_plan

    plan = torch.zeros(12, 5)
    plan[torch.arange(12), torch.arange(12) % 5] = 1.0  # each protein token maps to one source token
    model = SimpleNamespace(
        plan=lambda: plan,
        source_ids=torch.arange(5),
        source_tokens=["M", "K", "LL", "A", "G"],
        target_tokenizer=SimpleNamespace(id_to_token=lambda i: "ACDEFGHIKLMN"[i]),
    )
    save_plan(model, S2T2Config(), seed=3, metrics={"test_bpc": 4.4}, folder=plan_dir("s2t2", 3))
    app = page("s2t2")
    assert "image" in kinds(app) and len(app.metric) == 3
    assert app.metric[1].value == "1.0"  # nonzeros per row
    mapping = app.dataframe[-1].value
    assert mapping["SmolLM2 token"].tolist() == ["M"] and mapping["P"].tolist() == [1.0]


def test_a_failed_run_shows_its_error_and_the_page_keeps_running():
    app = page("discover")
    next(s for s in app.selectbox if s.label == "Prior").set_value("llm").run()
    next(s for s in app.selectbox if s.label == "LLM backend").set_value("openai")
    field = {t.label: t for t in app.text_input}
    field["Base URL (openai backend)"].set_value("http://127.0.0.1:9/v1")  # nothing listens there
    field["Model (blank: default)"].set_value("some-model")
    button(app, "Run").click().run()
    assert not app.exception
    # Shown as text: every Markdown character escaped.
    assert app.error and "127.0.0.1:9" in app.error[0].value.replace("\\", "")


def test_chared_page_shows_the_ensemble_beside_each_model(local_fp32):
    app = page("chared")
    app.selectbox[1].set_value("smollm2")  # both sides the embedded model: no second download in tests
    app.slider[0].set_value(0.5)
    app.number_input[0].set_value(12)
    button(app, "Generate").click().run()
    assert not app.exception and not app.error
    assert [m.value for m in app.markdown if m.value.startswith("**")] == [
        "**A: smollm2 alone**",
        "**ensemble, alpha = 0.50**",
        "**B: smollm2 alone**",
    ]
    outputs = [c.value for c in app.code]
    assert len(outputs) == 3 and outputs[0] == outputs[1] == outputs[2]  # the same model three times


def test_interp_page_offers_training_until_anchors_exist_then_generates_with_scores(random_anchors, discolab_home):
    import json
    import shutil

    app = page("interp")
    assert button(app, "Run the quick study (about 10 minutes)")  # seed 0: quick anchors in the background
    app.number_input[0].set_value(7).run()
    assert not app.exception, app.exception
    assert any("No trained anchors for seed 7" in i.value for i in app.info), (
        [w.value for w in app.number_input],
        [i.value for i in app.info],
        [c.value for c in app.caption],
    )
    assert "discolab interp train --seed 7" in app.caption[-1].value
    folder = discolab_home / "interp" / "seed-7"
    shutil.copytree(random_anchors, folder)
    (folder / "anchors.json").write_text(json.dumps({"seed": 7}))
    app.run()
    assert not app.exception and not app.info
    sliders = {s.label: s for s in app.slider}
    assert "sentiment: negative (0) to positive (1)" in sliders and "lambda formality" in sliders
    app.number_input[2].set_value(8)  # new tokens
    sliders["sentiment: negative (0) to positive (1)"].set_value(2.0).run()
    assert not app.exception and not app.error
    assert [m.value for m in app.markdown if m.value == "**Output**"]
    assert "sentiment/vader" in app.caption[-1].value
    sliders = {s.label: s for s in app.slider}
    for label in ("lambda sentiment", "lambda formality", "lambda simplicity"):
        sliders[label].set_value(0.0)
    app.run()
    assert app.warning and "lambda above 0" in app.warning[0].value


def test_distill_page_decodes_samples_from_d3_latents(discolab_home):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the page's distillation runs in this process; tiny nets, one thread is fastest
    try:
        app = page("distill")
        button(app, "Decode (distils first if this setting is not on disk, ~30 s)").click().run()
    finally:
        torch.set_num_threads(threads)
    assert not app.exception, app.exception
    assert "latents per class" in app.caption[-1].value and "image" in kinds(app)


def test_sigterm_to_discolab_ui_stops_the_streamlit_server_too(tmp_path):
    import signal

    import psutil
    from conftest import launch_dashboard

    ui, _ = launch_dashboard(tmp_path)
    children = psutil.Process(ui.pid).children(recursive=True)
    try:
        assert children, "the dashboard's server process was not found"
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=30)
        _, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"left running: {alive}"
    finally:  # nothing outlives the test, whatever failed
        if ui.poll() is None:
            ui.kill()
        for process in children:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


def test_agent_page_without_a_server_says_what_to_start_and_calls_tools_by_hand(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    app = page("agent")
    assert "No model server is configured" in app.info[0].value
    assert "llama-server" in app.code[0].value and "ollama" in app.code[0].value
    app.selectbox(key="tool-name").set_value("describe_graph").run()
    app.text_input(key="tool-describe_graph-graph").set_value("cancer").run()
    button(app, "Call").click().run()
    assert not app.exception and not app.error
    assert "Smoker" in app.code[-1].value  # the tool's result: cancer's variables
    app.text_input(key="tool-describe_graph-graph").set_value("/etc/passwd").run()
    button(app, "Call").click().run()
    assert "not available to tools" in app.error[0].value  # the same checks as a model's call


def test_tool_forms_follow_the_json_schema():
    import discolab.agents.tools.builtin  # noqa: F401
    from discolab.agents.tools.registry import REGISTRY
    from discolab.ui.tool_form import fields, parse_list

    (graph,) = fields(REGISTRY["describe_graph"].schema()["function"]["parameters"])
    assert graph.required and graph.kind == "string"
    by_name = {f.name: f for f in fields(REGISTRY["run_discovery"].schema()["function"]["parameters"])}
    assert by_name["graph"].default == "asia" and not by_name["graph"].required
    assert by_name["rounds"].kind == "integer" and by_name["rounds"].maximum == 50
    assert "bootstrap" in by_name["strategy"].choices
    chared = {f.name: f for f in fields(REGISTRY["chared_generate"].schema()["function"]["parameters"])}
    assert chared["models"].kind == "array" and "smollm2" in chared["models"].item_choices
    assert chared["weights"].kind == "array" and chared["weights"].items == "number"  # optional: anyOf with null
    assert chared["seed"].kind == "integer" and chared["seed"].maximum == 2**31 - 1
    assert parse_list("0.5, 0.25", "number") == [0.5, 0.25]
    with pytest.raises(ValueError):
        parse_list("a, b", "integer")


def test_the_interactive_graph_keeps_its_layout_filters_and_offers_the_answer():
    from discolab.agents.discovery import DiscoverySettings, round_states, start_discovery
    from discolab.core.graphs import load_benchmark
    from discolab.ui.graph_view import answer_from_selection, interactive_graph, stable_positions

    run = start_discovery(DiscoverySettings(graph="asia", prior="simulated:0.7", update="structural", rounds=3))
    states = round_states(run.run_id)
    positions = stable_positions(states)
    first, last = (interactive_graph(states[r], positions) for r in (0, 3))
    nodes = [t for t in last.data if t.name == "variables"][0]
    assert list(nodes.x) == list([t for t in first.data if t.name == "variables"][0].x)  # nodes stay put
    assert "recently visited asia" in " ".join(nodes.hovertext).lower()  # a description on hover
    truth = set(load_benchmark("asia").edges)
    tested = interactive_graph(states[3], positions, tested_only=True).data[0]
    assert len(tested.customdata) == len(states[3]["results"])
    assert all("experiment in round" in text for text in tested.hovertext)
    true_only = interactive_graph(states[3], positions, true_only=True, min_belief=0.0).data[0]
    assert {(u, v) for _, u, v in true_only.customdata} == truth
    asked = interactive_graph(states[3], positions, pending=("asia", "tub"))
    assert [t.name for t in asked.data][-1] == "answer"
    assert answer_from_selection([{"customdata": ["answer", False, ""]}]) is False
    assert answer_from_selection([{"customdata": ["edge", "asia", "tub"]}]) is None


def test_the_graph_hover_tells_the_prior_and_each_update_of_an_edge():
    from discolab.agents.discovery import DiscoverySettings, round_states, start_discovery
    from discolab.agents.discovery.results import edge_records
    from discolab.ui.graph_view import edge_hover

    run = start_discovery(DiscoverySettings(graph="cancer", prior="simulated:0.7", update="shift:0.2", rounds=2))
    states = round_states(run.run_id)
    records = edge_records(states)
    prior = dict(zip(map(tuple, states[0]["pairs"]), states[0]["prior_beliefs"]))
    moved = next(e for e, r in records.items() if any(p["kind"] == "update" for p in r["provenance"]))
    text = edge_hover(moved, records[moved], None)
    assert f"0.7): {prior[moved]:.2f}" in text and "update (shift:0.2)" in text
    alone = edge_records({2: states[2]}, 2)[moved]  # one state: the prior is still the prior
    assert alone["provenance"][0]["belief"] == prior[moved]
