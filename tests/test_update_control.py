"""The shift:D control for the LLM update: neighbours moved by D at random, no model asked."""

import random

import pytest
from conftest import ScriptedBackend, after_results
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.core.errors import DiscolabError
from discolab.core.igda.updates import neighbouring_edges, shift_update


def test_the_shift_moves_each_untested_neighbour_by_d():
    beliefs = {("a", "b"): 0.5, ("b", "c"): 0.3, ("c", "d"): 0.995, ("d", "e"): 0.4, ("e", "f"): 0.2}
    results = {("a", "b"): True}
    moved = shift_update(beliefs, results, 0.1, random.Random(0))
    assert neighbouring_edges(beliefs, results) == [("b", "c")]
    assert abs(moved[("b", "c")] - 0.3) == pytest.approx(0.1)
    assert {e: p for e, p in moved.items() if e != ("b", "c")} == {e: p for e, p in beliefs.items() if e != ("b", "c")}
    far = shift_update(beliefs, {("b", "c"): False}, 0.5, random.Random(1))
    assert 0.01 <= far[("c", "d")] <= 0.99  # clipped


def test_the_llm_update_records_how_far_it_moves_the_neighbours(monkeypatch):
    import discolab.agents.discovery.nodes as nodes

    monkeypatch.setattr(nodes, "_backend", lambda settings: ScriptedBackend(after_results(0.3, 0.8)))
    run = start_discovery(
        DiscoverySettings(graph="cancer", prior="llm", update="llm", rounds=2, per_round=1, calibration="none")
    )
    assert "update_shift" not in run.history[0]
    first, second = (h["update_shift"] for h in run.history[1:])
    assert first == pytest.approx(0.5)  # every neighbour re-asked: 0.3 -> 0.8
    assert 0 < second < 0.5  # the neighbours asked again in round 1 stay at 0.8
    control = start_discovery(DiscoverySettings(graph="cancer", prior="simulated:0.7", update="shift:0.5", rounds=2))
    assert control.values["belief_changes"]


@pytest.mark.parametrize("update", ["shift:0", "shift:1.5", "shift:x", "shift:"])
def test_a_bad_shift_is_named(update):
    with pytest.raises(DiscolabError, match="shift:D moves beliefs by D"):
        DiscoverySettings(update=update)


def test_the_update_evaluation_runs_the_control_at_the_measured_shift(monkeypatch, tmp_path, capsys):
    import discolab.agents.discovery.nodes as nodes
    from discolab.experiments import llm_update_eval

    moved = after_results(0.3, 0.8)  # the content-free question ("N/A") stays put, so calibration keeps the move
    answer = lambda text: 0.3 if "N/A directly cause" in text else moved(text)  # noqa: E731
    monkeypatch.setattr(nodes, "_backend", lambda settings: ScriptedBackend(answer))
    db = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    assert llm_update_eval.main(["--quick", "--db", db]) == 0
    report = capsys.readouterr().out
    runs = llm_update_eval.runs_table(llm_update_eval.RunsDB(db))
    assert set(runs["arm"]) == {*llm_update_eval.ARMS, llm_update_eval.SHIFT_ARM} and len(runs) == 14
    igda = runs[runs["arm"] == llm_update_eval.IGDA]
    control = runs[runs["arm"] == llm_update_eval.SHIFT_ARM]
    assert igda["update_shift"].mean() > 0.1
    assert (control["shift"] == round(igda["update_shift"].mean(), 3)).all()  # D is what the LLM moved
    assert "IGDA against each arm" in report and "uncertainty+shift" in report
