"""Kill a discovery run with SIGKILL mid-way, resume it, and compare with an uninterrupted run.

The run uses the embedded LLM for the prior and the local updates, so it lasts long enough
to be killed between checkpoints.
"""

import os
import signal
import subprocess
import sys
import time

from discolab.agents.discovery import DiscoverySettings, resume_discovery, start_discovery
from discolab.agents.discovery.nodes import current_beliefs
from discolab.agents.discovery.run import compiled_graph

SETTINGS = dict(graph="sachs", prior="llm", update="llm", strategy="uncertainty", rounds=5, per_round=2, seed=7)


def _round_reached(run_id: str) -> int:
    values = compiled_graph().get_state({"configurable": {"thread_id": run_id}}).values
    return values.get("round", -1) if values else -1


def test_sigkill_then_resume_matches_an_uninterrupted_run(discolab_home):
    run_id = "killed-run"
    args = [sys.executable, "-m", "discolab.ui.cli", "discover", "--run-id", run_id, "--json"]
    for key, value in SETTINGS.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.time() + 900  # generous: a loaded machine is slow, and the loop exits at round 2
    while _round_reached(run_id) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _round_reached(run_id)
    assert 2 <= killed_at < SETTINGS["rounds"]

    resumed = resume_discovery(run_id)
    reference = start_discovery(DiscoverySettings(**SETTINGS))
    assert resumed.done and reference.done
    assert resumed.history == reference.history
    assert current_beliefs(resumed.values) == current_beliefs(reference.values)
    tested = [tuple(r["edge"]) for r in resumed.values["results"]]
    assert len(tested) == SETTINGS["rounds"] * SETTINGS["per_round"] == len(set(tested))
