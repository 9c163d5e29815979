"""The store of discovery runs under attack and accident: a planted constructor, a damaged file,
two processes on one run id, a graph file edited after the run began, uploads with crafted
names, and the bytes a round costs."""

import json
import os
import sqlite3
import subprocess
import sys

import ormsgpack
import pytest
from discolab.agents.discovery import DiscoverySettings, list_runs, load_run, resume_discovery, start_discovery
from discolab.agents.discovery.checkpoints import PlainDataSerializer
from discolab.agents.discovery.run import run_lock
from discolab.core.errors import DiscolabError, StoreError
from discolab.core.paths import data_path

QUICK = dict(graph="cancer", prior="simulated:0.7", update="none", rounds=2, per_round=1)
EXT_CONSTRUCTOR_POS_ARGS = 1  # langgraph's msgpack record: import module, call name(*args)


def planted(marker) -> bytes:
    """A checkpoint value whose decoding, by LangGraph's permissive default, calls os.mkdir(marker)."""
    record = ormsgpack.Ext(EXT_CONSTRUCTOR_POS_ARGS, ormsgpack.packb(["os", "mkdir", [str(marker)]]))
    return ormsgpack.packb({"round": 1, "payload": record})


def test_the_planted_record_is_a_real_attack_on_the_default_serializer(tmp_path):
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    marker = tmp_path / "ran-by-default"
    JsonPlusSerializer(allowed_msgpack_modules=True).loads_typed(("msgpack", planted(marker)))
    assert marker.is_dir()  # what a tampered checkpoint did before


def test_a_planted_constructor_is_refused_on_resume_and_on_listing(tmp_path, capsys):
    start_discovery(DiscoverySettings(**QUICK), run_id="planted")
    marker = tmp_path / "ran"
    with sqlite3.connect(data_path("checkpoints.sqlite")) as db:
        changed = db.execute(
            "UPDATE blobs SET blob = ? WHERE thread_id = 'planted' AND channel = 'round'", (planted(marker),)
        ).rowcount
    assert changed > 0
    with pytest.raises(StoreError, match="os.mkdir.*tampered"):
        load_run("planted")
    listed = {r["run_id"]: r for r in list_runs()}
    assert "tampered" in listed["planted"]["error"]
    from discolab.ui.cli import main

    assert main(["resume", "planted"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "os.mkdir" in err
    assert not marker.exists()


def test_pickle_and_json_encodings_are_refused():
    serializer = PlainDataSerializer()
    for encoding in ("pickle", "json"):
        with pytest.raises(StoreError):
            serializer.loads_typed((encoding, b"{}"))
    assert serializer.loads_typed(serializer.dumps_typed({"a": [1, 2.5, "x", None]})) == {"a": [1, 2.5, "x", None]}


def test_a_damaged_checkpoint_file_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path))
    (tmp_path / "checkpoints.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="damaged.*move it aside"):
        list_runs()
    from discolab.ui.cli import main

    assert main(["resume", "anything"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoints.sqlite" in err and "damaged" in err


def test_a_second_driver_of_the_same_run_is_refused():
    with run_lock("busy-run"):
        with pytest.raises(DiscolabError, match="being driven by another process"):
            start_discovery(DiscoverySettings(**QUICK), run_id="busy-run")
    with pytest.raises(DiscolabError, match="no discovery run"):
        load_run("busy-run")  # nothing was saved by the refused start


def test_two_processes_starting_one_run_id_one_wins(tmp_path):
    command = [sys.executable, "-m", "discolab.ui.cli", "discover", "--graph", "asia", "--prior", "simulated:0.7"]
    command += ["--update", "none", "--rounds", "3", "--per-round", "2", "--run-id", "raced", "--json"]
    env = {**os.environ, "DISCOLAB_HOME": str(tmp_path)}
    racers = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in racers]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert "exists already" in loser or "being driven" in loser
    winner = json.loads(next(out for code, out, _ in results if code == 0))
    assert [r["round"] for r in winner["rounds"]] == [0, 1, 2, 3]


def test_a_run_keeps_its_graph_when_the_file_changes_or_goes(tmp_path):
    path = tmp_path / "mine.json"
    spec = {
        "name": "mine",
        "context": "A study.",
        "variables": [{"name": n, "description": f"Variable {n}."} for n in ("a", "b", "c")],
        "edges": [["a", "b"], ["b", "c"]],
    }
    path.write_text(json.dumps(spec))
    settings = DiscoverySettings(
        graph=str(path), prior="simulated:0.7", update="none", experimenter="human", rounds=1, per_round=1
    )
    run = start_discovery(settings, run_id="keeps-graph")
    assert run.question is not None
    path.write_text(json.dumps({**spec, "variables": [{"name": "z", "description": "Other."}], "edges": []}))
    os.rename(path, tmp_path / "moved.json")
    run = resume_discovery("keeps-graph", answer=True)
    assert run.done and run.history[-1]["experiments"] == 1
    assert json.loads(run.values["graph"])["spec"]["variables"][0]["name"] == "a"


def test_a_changed_file_is_read_afresh_by_a_new_run(tmp_path):
    path = tmp_path / "changing.json"
    base = {"name": "changing", "context": "", "edges": [["a", "b"]]}
    variables = [{"name": "a", "description": "A."}, {"name": "b", "description": "B."}]
    path.write_text(json.dumps({**base, "variables": variables}))
    first = start_discovery(DiscoverySettings(graph=str(path), prior="simulated:0.7", update="none", rounds=0))
    path.write_text(json.dumps({**base, "variables": [*variables, {"name": "c", "description": "C."}]}))
    second = start_discovery(DiscoverySettings(graph=str(path), prior="simulated:0.7", update="none", rounds=0))
    assert len(first.values["pairs"]) == 2 and len(second.values["pairs"]) == 6


def test_a_round_stores_what_changed_not_the_whole_state():
    """The pairs, the prior and the graph are stored once; a round adds its own small changes
    (experiments, a history record, the beliefs the update moved), not all n(n-1) beliefs
    (which a round used to store twice: the update's write and the new checkpoint)."""

    def stored(run_id: str, rounds: int) -> int:
        settings = DiscoverySettings(graph="alarm", prior="simulated:0.7", update="structural", rounds=rounds)
        start_discovery(settings, run_id=run_id)
        with sqlite3.connect(data_path("checkpoints.sqlite")) as db:
            once = db.execute(
                "SELECT COUNT(*) FROM blobs WHERE thread_id = ? AND channel IN ('pairs', 'prior_beliefs', 'graph')",
                (run_id,),
            ).fetchone()[0]
            assert once == 3
            return sum(
                db.execute(f"SELECT SUM(LENGTH({column})) FROM {table} WHERE thread_id = ?", (run_id,)).fetchone()[0]
                for table, column in (("blobs", "blob"), ("writes", "value"))
            )

    per_round = (stored("bytes-3-rounds", 3) - stored("bytes-0-rounds", 0)) / 3
    one_copy = len(ormsgpack.packb(load_run("bytes-3-rounds").values["prior_beliefs"]))
    assert per_round < 0.25 * one_copy, (per_round, one_copy)
    assert load_run("bytes-3-rounds").history[-1]["round"] == 3


def test_a_failing_step_keeps_the_run_and_says_how_to_resume(monkeypatch):
    import discolab.agents.discovery.nodes as nodes
    from discolab.core.errors import LLMError

    def down(*_args, **_kwargs):
        raise LLMError("the model server did not answer")

    monkeypatch.setattr(nodes, "make_experimenter", down)
    with pytest.raises(DiscolabError, match=r"did not answer.*discolab resume fails-at-experiment"):
        start_discovery(DiscoverySettings(**QUICK), run_id="fails-at-experiment")
    stored = load_run("fails-at-experiment")
    assert stored.history[0]["round"] == 0 and stored.values["selected"]  # prior and selection were kept
    monkeypatch.undo()
    assert resume_discovery("fails-at-experiment").history[-1]["round"] == 2


def test_uploads_are_stored_by_content_never_by_their_name(tmp_path):
    from discolab.core.graphs.uploads import store_upload

    content = json.dumps(
        {
            "name": "up",
            "context": "",
            "variables": [{"name": "a", "description": "A."}, {"name": "b", "description": "B."}],
        }
    ).encode()
    uploads = data_path("uploads", "x").parent
    for name in ("../../escaped.json", "/tmp/absolute.json", "sub/dir/name.json", "plain.json"):
        path, spec = store_upload(name, content)
        assert path.parent == uploads and spec.name == "up"
    assert not (uploads.parent.parent / "escaped.json").exists() and not os.path.exists("/tmp/absolute.json")
    other, _ = store_upload("plain.json", content.replace(b'"up"', b'"up2"'))
    assert other != path and path.exists()  # a same-name upload never overwrites an earlier one
    before = sorted(uploads.iterdir())
    with pytest.raises(DiscolabError, match=r"cannot parse bad\.json: "):
        store_upload("bad.json", b"{not json")
    with pytest.raises(DiscolabError):
        store_upload("script.py", content)
    assert sorted(uploads.iterdir()) == before  # nothing kept of a bad upload


def test_a_resume_while_another_driver_holds_the_run_is_refused():
    """Two tabs of the dashboard answering the same question: the second is refused, not interleaved."""
    start_discovery(DiscoverySettings(**{**QUICK, "experimenter": "human", "rounds": 1}), run_id="two-tabs")
    with run_lock("two-tabs"):
        with pytest.raises(DiscolabError, match="being driven by another process"):
            resume_discovery("two-tabs", answer=True)
    assert resume_discovery("two-tabs", answer=True).history[-1]["experiments"] == 1


def test_another_process_is_refused_while_a_run_is_driven(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path))
    command = [sys.executable, "-m", "discolab.ui.cli", "discover", "--graph", "cancer", "--prior", "simulated:0.7"]
    command += ["--update", "none", "--rounds", "1", "--run-id", "held"]
    with run_lock("held"):
        refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "being driven by another process" in refused.stderr
    assert subprocess.run(command, capture_output=True, text=True, timeout=120).returncode == 0


def test_a_read_only_data_directory_lists_and_shows_runs_and_refuses_new_ones(tmp_path):
    from conftest import without_root_powers

    env = {**os.environ, "DISCOLAB_HOME": str(tmp_path)}
    discolab = [sys.executable, "-m", "discolab.ui.cli"]
    quick = ["discover", "--graph", "cancer", "--prior", "simulated:0.7", "--update", "none", "--rounds", "1"]
    subprocess.run([*discolab, *quick, "--run-id", "kept"], env=env, check=True, capture_output=True)
    show = "from discolab.agents.discovery import list_runs, load_run; "
    show += "print([r['run_id'] for r in list_runs()], load_run('kept').history[-1]['round'])"
    tmp_path.chmod(0o555)
    try:
        prefix = without_root_powers()
        shown = subprocess.run([*prefix, sys.executable, "-c", show], env=env, capture_output=True, text=True)
        assert shown.returncode == 0 and shown.stdout.split() == ["['kept']", "1"], shown.stderr
        refused = subprocess.run([*prefix, *discolab, *quick], env=env, capture_output=True, text=True)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "not writable" in refused.stderr
        assert "is saved" not in refused.stderr  # nothing was started, so nothing claims to be saved
    finally:
        tmp_path.chmod(0o755)


def test_the_checkpoint_benchmark_measures_both_stores(capsys):
    from discolab.ui.cli import main

    assert main(["bench", "checkpoints", "--graphs", "cancer", "random:40", "--rounds", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["variables"] for r in rows] == [5, 40]
    for row in rows:
        assert row["discolab_bytes_per_round"] < row["sqlite_bytes_per_round"] and row["ratio_per_round"] > 1
    assert rows[1]["ratio_per_round"] > rows[0]["ratio_per_round"]  # the saving grows with the graph


def test_uploaded_data_tables_are_stored_by_content(tmp_path):
    from discolab.core.graphs.uploads import store_data_upload

    first = store_data_upload("../../mine.csv", b"a,b\n1,2\n")
    assert first.parent == data_path("uploads", "x").parent and first.suffix == ".csv"
    assert store_data_upload("other-name.csv", b"a,b\n1,2\n") == first  # same content, same file
    assert store_data_upload("mine.csv", b"a,b\n1,3\n") != first
    with pytest.raises(DiscolabError, match="must end in .csv, .tsv, .parquet"):
        store_data_upload("mine.xlsx", b"...")
