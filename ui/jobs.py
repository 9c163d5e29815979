"""Studies started from the dashboard, run by a background process that outlives the page.

A page's rerun (or a closed tab) must not stop a study, and two tabs must not run it twice. So a
study runs as its own process (``python -m discolab.ui.jobs NAME``, a new session so that it and
its children can be stopped together), and its state is a small JSON file in the data
directory's ``jobs/`` folder, checked and claimed under a file lock when the study starts. Every page
reads progress from the process's log (the sweep runner's ``done/total`` bar); cancelling stops
the process group, and the cells already finished stay in the runs database, as they are
recorded one by one. Quick studies write experiments named ``...-quick``, which no page shows
as the full study.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from discolab.core.errors import DiscolabError
from discolab.core.paths import data_path


@dataclass(frozen=True)
class Study:
    name: str
    module: str  # discolab.experiments.X, run with ``argv``
    argv: tuple[str, ...]
    minutes: float  # the estimate shown before any cell finishes (README: measured durations)
    full: str  # the command of the full study, shown beside the button

    @property
    def label(self) -> str:
        return f"about {self.minutes:.0f} minute{'s' if self.minutes >= 1.5 else ''}"


STUDIES = {
    study.name: study
    for study in (
        Study(
            "count-task", "discolab.experiments.count_task", ("--quick",), 1.0,
            "python -m discolab.experiments.count_task --seeds 20 --workers 2",
        ),
        Study(
            "moe", "discolab.experiments.moe_eval", ("--quick", "--seeds", "1"), 3.0,
            "python -m discolab.experiments.moe_eval --seeds 3",
        ),
        Study(
            "tree", "discolab.experiments.tree_eval", ("--quick", "--seeds", "2"), 1.0,
            "python -m discolab.experiments.tree_eval --seeds 10",
        ),
        Study(
            "distill", "discolab.experiments.distill_eval", ("--quick", "--seeds", "1"), 1.0,
            "python -m discolab.experiments.distill_eval --select-temperature, then --seeds 5",
        ),
        Study(
            "ddeq", "discolab.experiments.ddeq_eval", ("--quick", "--seeds", "1"), 2.0,
            "discolab ddeq eval",
        ),
        # Model files rather than rows in the runs database: what those pages draw from.
        Study(
            "interp-anchors", "discolab.ui.cli", ("interp", "train", "--quick", "--seed", "0"), 10.0,
            "discolab interp train --seed 0 (about 15 minutes), then python -m discolab.experiments.interp_eval",
        ),
        Study(
            "s2t2-plan", "discolab.ui.cli", ("s2t2", "train"), 5.0,
            "discolab s2t2 eval --select --settings s2t2.json, then --settings s2t2.json (about 10 CPU-hours)",
        ),
    )
}  # fmt: skip
PROGRESS = re.compile(r"(\d+)/(\d+) \[")  # tqdm's "done/total [elapsed<left"


def _job_file(name: str) -> Path:
    return data_path("jobs", f"{name}.json")


def _read(name: str) -> dict | None:
    try:
        return json.loads(_job_file(name).read_text())
    except (OSError, ValueError):
        return None


def _write(name: str, state: dict) -> None:
    path = _job_file(name)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state))
    temporary.replace(path)  # readers never see half a file


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own child not yet reaped) has finished
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def status(name: str) -> dict | None:
    """The study's state: ``status`` (running, done, failed, cancelled), when it started, its
    progress (``done``, ``total``, ``fraction``), an estimate of the seconds left, the log's last
    line; None if it never ran."""
    state = _read(name)
    if state is None:
        return None
    if state["status"] == "running" and not _alive(state["pid"]):
        state["status"] = "failed"  # killed from outside, or the machine restarted
        state.setdefault("error", "the study's process ended without saying so; see its log")
        _write(name, state)
    log = Path(state["log"])
    text = log.read_text(errors="replace")[-20_000:] if log.exists() else ""
    matches = PROGRESS.findall(text)
    done, total = (int(matches[-1][0]), int(matches[-1][1])) if matches else (0, 0)
    elapsed = (state.get("ended") or time.time()) - state["started"]
    fraction = done / total if total else 0.0
    estimate = STUDIES[name].minutes * 60 if name in STUDIES else None
    if fraction > 0:
        estimate = elapsed / fraction
    left = max(0.0, estimate - elapsed) if estimate is not None else None
    lines = [line for line in re.split(r"[\r\n]", text) if line.strip()]
    return {**state, "done": done, "total": total, "fraction": fraction, "seconds_left": left,
            "elapsed": elapsed, "last_line": lines[-1][-300:] if lines else ""}  # fmt: skip


def start(name: str) -> dict:
    """Start study ``name`` in the background, unless it is running already (from this tab or
    another): either way, its :func:`status`."""
    if name not in STUDIES:
        raise DiscolabError(f"unknown study {name!r}; choose from {', '.join(STUDIES)}")
    path = _job_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Check and claim under a lock: of two tabs pressing the button at once, one starts the
    # study and the other finds it running.
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = status(name)
        if current is not None and current["status"] == "running":
            return current
        return _launch(name)


def _launch(name: str) -> dict:
    """Start the background process; the caller holds the lock."""
    log = data_path("jobs", f"{name}.log")
    _write(name, {"status": "starting", "pid": os.getpid(), "started": time.time(), "log": str(log)})
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "discolab.ui.jobs", name],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    _write(name, {"status": "running", "pid": process.pid, "started": time.time(), "log": str(log)})
    return status(name) or {}


def cancel(name: str, grace: float = 5.0) -> None:
    """Stop a running study and its children (Ctrl+C first, so the sweep records what finished)."""
    state = _read(name)
    if state is None or state["status"] != "running":
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(state["pid"], sig)
        except ProcessLookupError:
            break
        deadline = time.time() + grace
        while time.time() < deadline and _alive(state["pid"]):
            time.sleep(0.1)
        if not _alive(state["pid"]):
            break
    _write(name, {**state, "status": "cancelled", "ended": time.time()})


def _run(name: str) -> int:
    """The background process: run the study, then record how it ended."""
    import importlib

    study = STUDIES[name]
    state = _read(name) or {}
    try:
        code = importlib.import_module(study.module).main(list(study.argv))
    except KeyboardInterrupt:  # cancel() already wrote "cancelled"
        return 130
    except BaseException as err:  # noqa: BLE001  (recorded for the page, then re-raised)
        _write(name, {**state, "pid": os.getpid(), "status": "failed", "error": str(err), "ended": time.time()})
        raise
    if (_read(name) or {}).get("status") == "cancelled":  # cancelled while it finished
        return 130
    final = "done" if not code else "failed"
    _write(name, {**state, "pid": os.getpid(), "status": final, "ended": time.time(), "code": code})
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(_run(sys.argv[1]))
