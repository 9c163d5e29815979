"""Quick studies started from the dashboard run in a background process: once, with progress,
cancellable, their finished cells kept."""

import time

import psutil
import pytest
from discolab.core.runs import RunsDB
from discolab.ui import jobs


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DISCOLAB_HOME", str(tmp_path))  # the background process inherits it
    yield tmp_path
    for name in jobs.STUDIES:  # nothing left running, whatever the test did
        jobs.cancel(name, grace=1.0)


def wait_for(name: str, condition, timeout: float = 900.0) -> dict:  # seconds idle; minutes when shared
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = jobs.status(name)
        if condition(state):
            return state
        time.sleep(0.5)
    pytest.fail(f"study {name} never reached the state wanted: {jobs.status(name)}")


def ended(pid: int, timeout: float = 30) -> bool:
    """Whether process ``pid`` is gone (or a zombie) within ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.2)
    return False


def test_a_quick_study_runs_in_the_background_once_and_records_its_results(home):
    first = jobs.start("count-task")
    assert first["status"] == "running"
    assert jobs.start("count-task")["pid"] == first["pid"]  # a second tab joins the running study
    state = wait_for("count-task", lambda s: s["status"] != "running")
    assert state["status"] == "done", state
    assert state["done"] == state["total"] > 0 and state["fraction"] == 1.0 and state["seconds_left"] == 0
    assert "count-task-quick" in set(RunsDB().experiments()["experiment"])
    assert ended(first["pid"])


def test_a_cancelled_study_stops_with_its_children_and_keeps_what_finished(home):
    state = jobs.start("moe")
    progress = wait_for("moe", lambda s: s["done"] >= 1)
    assert progress["total"] > progress["done"] and progress["seconds_left"] > 0
    jobs.cancel("moe")
    after = jobs.status("moe")
    assert after["status"] == "cancelled"
    assert ended(state["pid"], timeout=1)
    kept = RunsDB().experiments().set_index("experiment")
    assert kept.loc["moe-parrots-quick", "done"] >= 1
    restarted = jobs.start("moe")  # a cancelled study can be started again
    assert restarted["status"] == "running" and restarted["pid"] != state["pid"]


def test_two_tabs_pressing_at_once_start_one_study(home):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        started = list(pool.map(lambda _: jobs.start("tree"), range(4)))
    assert len({state["pid"] for state in started}) == 1
    study = ["discolab.ui.jobs", "tree"]
    running = [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[-2:] == study]
    assert len(running) == 1


def test_a_study_whose_process_died_is_reported_failed(home):
    state = jobs.start("count-task")
    psutil.Process(state["pid"]).kill()
    assert wait_for("count-task", lambda s: s["status"] != "running", 30)["status"] == "failed"


def test_an_unknown_study_is_named():
    from discolab.core.errors import DiscolabError

    with pytest.raises(DiscolabError, match="unknown study 'nope'"):
        jobs.start("nope")
