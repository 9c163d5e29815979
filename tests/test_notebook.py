"""The example notebooks run top to bottom (so they cannot rot)."""

import nbformat
from conftest import REPO
from nbclient import NotebookClient


def executed_outputs(name: str, folder) -> list:
    """Every output of experiments/``name`` run top to bottom in ``folder``; none is an error."""
    notebook = nbformat.read(REPO / "experiments" / name, as_version=4)
    # A cell that runs discovery sometimes gets its reply only when the client's wait times out, with
    # no error (seen in 2 of 5 runs with nbclient 0.11, jupyter_client 8.10, pyzmq 27, ipykernel 6 or
    # 7: the kernel replied within 2 s). The wait is bounded per cell, so it stays short: every cell
    # here takes a few seconds (at most 5 s on this 2-core machine under load), 45 s is ample.
    NotebookClient(notebook, timeout=45, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    return outputs


def test_walkthrough_notebook_executes_and_shows_its_views(tmp_path):
    outputs = executed_outputs("discovery_walkthrough.ipynb", tmp_path)
    kinds = {key for o in outputs for key in o.get("data", {})}
    assert "image/png" in kinds  # the graph and the distribution figure
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "vega" in html  # the metrics chart (Altair)
    assert "sweep notebook-asia-seeds: 12 cells" in "".join(o.get("text", "") for o in outputs)


def test_own_problem_notebook_explores_answers_and_exports(tmp_path):
    outputs = executed_outputs("own_problem_walkthrough.ipynb", tmp_path)
    kinds = {key for o in outputs for key in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in kinds  # the run explorer
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "Experiment needed" in text and "True [True]" in text  # asked, answered from the cell
    assert "digraph" in text and "dag {" in text  # exported
    assert "1.0, 0)" in text  # the last round: F1 1.0, SHD 0, as in docs/own_problem.md
