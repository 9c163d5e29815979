"""The runs database: atomic cells, replacement, failures, concurrent writers, query shapes."""

import multiprocessing

import pytest
from discolab.core.errors import DiscolabError
from discolab.core.runs import RunsDB, config_hash


@pytest.fixture
def db(tmp_path):
    return RunsDB(f"sqlite:///{tmp_path / 'runs.sqlite'}")


def test_a_cell_is_stored_with_config_seed_and_version(db):
    rows = db.record("exp", {"size": 3, "lr": 0.1}, 7, {"loss": 0.5, "acc": 0.9}, setting={"size": 3})
    assert rows == 2
    frame = db.results("exp")
    assert set(frame["metric"]) == {"loss", "acc"}
    assert (frame["seed"] == 7).all() and (frame["size"] == 3).all()
    assert frame["config_hash"].iloc[0] == config_hash({"lr": 0.1, "size": 3})  # key order does not matter
    assert frame["code_version"].iloc[0].startswith("0.")
    assert db.done_cells("exp") == {(config_hash({"size": 3, "lr": 0.1}), 7)}


def test_recording_a_cell_again_replaces_it_and_a_failure_is_kept(db):
    config = {"size": 1}
    db.record("exp", config, 0, [{"metric": "f1", "value": v, "step": s} for s, v in enumerate([0.1, 0.2])])
    db.record("exp", config, 0, [{"metric": "f1", "value": 0.3, "step": 0}])
    assert db.results("exp")["value"].tolist() == [0.3]
    db.record_failure("exp", {"size": 2}, 0, "Traceback ...\nValueError: boom")
    cells = db.cells("exp").set_index("config_hash")
    assert cells.loc[config_hash({"size": 2}), "status"] == "failed"
    assert "boom" in cells.loc[config_hash({"size": 2}), "error"]
    assert len(db.done_cells("exp")) == 1
    summary = db.experiments().iloc[0]
    assert (summary["done"], summary["failed"], summary["rows"]) == (1, 1, 1)


def test_deleting_an_experiment_leaves_the_others(db, capsys):
    from discolab.ui.cli import main

    db.record("old", {"a": 1}, 0, {"x": 1.0})
    db.record("old", {"a": 2}, 0, {"x": 2.0})
    db.record("kept", {"a": 1}, 0, {"x": 3.0})
    assert main(["runs", "delete", "old", "--db", db.url]) == 0
    assert "deleted 2 cells of old" in capsys.readouterr().out
    assert db.done_cells("old") == set() and list(db.experiments()["experiment"]) == ["kept"]


def test_wide_has_one_column_per_metric_and_a_row_per_step(db):
    for seed in range(3):
        rows = [{"metric": m, "value": seed + s, "step": s} for s in range(4) for m in ("f1", "shd")]
        db.record("traj", {"graph": "asia"}, seed, rows)
    wide = db.wide("traj")
    assert len(wide) == 12 and {"f1", "shd", "graph", "seed", "step"} <= set(wide.columns)
    assert wide.query("seed == 2 and step == 3")["f1"].item() == 5


def test_unknown_experiment_and_bad_url_are_named(db):
    with pytest.raises(DiscolabError, match="no results for experiment 'nope'"):
        db.results("nope")
    with pytest.raises(DiscolabError, match="cannot open the runs database"):
        RunsDB("notadialect://x")


def _write_cells(url: str, worker: int, cells: int) -> None:
    db = RunsDB(url)
    for i in range(cells):
        db.record("race", {"worker": worker, "i": i}, i % 3, {"a": i, "b": worker, "c": 1.0})


def test_concurrent_writers_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    RunsDB(url)  # create the schema once, as a sweep's driver does
    workers, cells = 4, 60
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_cells, args=(url, w, cells)) for w in range(workers)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
        assert p.exitcode == 0
    db = RunsDB(url)
    frame = db.results("race")
    assert len(frame) == workers * cells * 3
    assert len(db.done_cells("race")) == workers * cells
    assert frame.groupby("worker")["i"].nunique().tolist() == [cells] * workers


def test_import_copies_the_cells_missing_here_as_recorded_there(tmp_path, capsys):
    from discolab.ui.cli import main

    source_file = tmp_path / "elsewhere.sqlite"
    source, here = RunsDB(f"sqlite:///{source_file}"), RunsDB(f"sqlite:///{tmp_path / 'here.sqlite'}")
    source.record("sweep", {"size": 1}, 0, {"acc": 0.1})  # done in both: kept as it is here
    source.record("sweep", {"size": 1}, 1, [{"metric": "acc", "value": v, "step": s} for s, v in enumerate([0.2, 0.3])])
    source.record("sweep", {"size": 2}, 0, {"acc": None, "loss": 2.0})  # a missing value stays missing
    source.record_failure("sweep", {"size": 3}, 0, "boom")  # failed there: not copied
    source.record("other", {"k": 1}, 5, {"x": 5.0})
    here.record("sweep", {"size": 1}, 0, {"acc": 0.9})
    here.record_failure("sweep", {"size": 2}, 0, "killed")  # failed here: replaced by the finished cell
    before = source_file.read_bytes()

    assert main(["runs", "import", str(source_file), "--experiment", "sweep", "--db", here.url]) == 0
    out = capsys.readouterr().out
    assert "imported 2 cells (4 rows)" in out and "1 already done there were kept" in out
    wide = here.wide("sweep").set_index(["config_hash", "seed", "step"])
    assert wide.loc[(config_hash({"size": 1}), 0, 0), "acc"] == 0.9  # here's own cell untouched
    assert wide.loc[(config_hash({"size": 1}), 1, 1), "acc"] == 0.3  # a trajectory keeps its steps
    assert wide.loc[(config_hash({"size": 2}), 0, 0), "loss"] == 2.0
    assert wide.loc[(config_hash({"size": 2}), 0, 0), "acc"] != wide.loc[(config_hash({"size": 2}), 0, 0), "acc"]
    assert len(here.done_cells("sweep")) == 3 and "other" not in set(here.experiments()["experiment"])
    copied = here.results("sweep").query("seed == 1")
    recorded = source.results("sweep").query("seed == 1")
    assert copied[["created", "code_version", "setting"]].equals(recorded[["created", "code_version", "setting"]])
    assert source_file.read_bytes() == before  # the source is only read

    # everything again: only the experiment not yet copied arrives; a second run copies nothing
    assert here.import_cells(RunsDB(source.url, readonly=True)) == {"cells": 1, "rows": 1, "kept": 3}
    assert here.import_cells(RunsDB(source.url, readonly=True)) == {"cells": 0, "rows": 0, "kept": 4}


def test_import_names_a_missing_file_experiment_or_foreign_database(tmp_path, capsys):
    import sqlite3

    from discolab.ui.cli import main

    here = RunsDB(f"sqlite:///{tmp_path / 'here.sqlite'}")
    assert main(["runs", "import", str(tmp_path / "nowhere.sqlite"), "--db", here.url]) == 2
    assert "no runs database file at" in capsys.readouterr().err
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("create table notes (text)")
    assert main(["runs", "import", str(foreign), "--db", here.url]) == 2
    assert "is not a runs database" in capsys.readouterr().err
    with sqlite3.connect(foreign) as connection:  # and it was not turned into one
        assert [t for (t,) in connection.execute("select name from sqlite_master where type='table'")] == ["notes"]
    source = RunsDB(f"sqlite:///{tmp_path / 'source.sqlite'}")
    source.record("sweep", {"a": 1}, 0, {"x": 1.0})
    assert main(["runs", "import", str(tmp_path / "source.sqlite"), "--experiment", "swep", "--db", here.url]) == 2
    assert "no finished cells of swep" in capsys.readouterr().err
    with pytest.raises(DiscolabError, match="into itself"):
        source.import_cells(RunsDB(source.url, readonly=True))
