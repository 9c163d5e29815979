"""Hostile and careless input at the command line: one line, exit status 2, nothing half-written.

Every case runs the real CLI in process and checks the same contract: status 2, one line on
stderr starting ``discolab: error:`` and under a bounded length, no traceback, and the data
directory's databases byte for byte as they were.
"""

import hashlib
import json
import sqlite3
import string

import pytest
from conftest import run_cli
from discolab.core.errors import MAX_MESSAGE_CHARS
from discolab.core.paths import data_home
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def stores() -> dict[str, str]:
    """A fingerprint of the content of every database in the data directory (its SQL dump: the
    bytes of the file move when SQLite folds its write-ahead log in, the content does not)."""
    prints = {}
    for path in sorted(data_home().glob("*.sqlite")):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            prints[path.name] = hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()
    return prints


def assert_refused(capsys, *argv: str, match: str | None = None) -> str:
    before = stores()
    code, _, err = run_cli(capsys, *argv)
    assert code == 2, (argv, code, err)
    assert err.count("\n") == 1 and err.startswith("discolab: error: "), err
    assert len(err) <= MAX_MESSAGE_CHARS + 20 and "Traceback" not in err
    assert stores() == before, f"{argv} changed a database"
    if match:
        assert match in err, err
    return err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    no_truth = {
        "name": "mine",
        "context": "A study.",
        "variables": [{"name": "a", "description": "First."}, {"name": "b", "description": "Second."}],
    }
    (folder / "no_truth.json").write_text(json.dumps(no_truth))
    (folder / "with_truth.json").write_text(json.dumps({**no_truth, "edges": [["a", "b"]]}))
    (folder / "laughs.yaml").write_text(
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    )
    (folder / "latin1.json").write_bytes(json.dumps(no_truth).replace("Second", "Deuxi\u00e8me").encode("latin-1"))
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "bigint.json").write_text(json.dumps(no_truth)[:-1] + ', "edges": ' + "9" * 5001 + "}")
    (folder / "metric_text.csv").write_text("size,seed,acc\n1,0,0.5\n1,1,oops\n2,0,0.7\n2,1,0.8\n")
    (folder / "metric_inf.csv").write_text("size,seed,acc\n1,0,inf\n1,1,0.5\n2,0,0.7\n2,1,0.8\n")
    (folder / "ok.csv").write_text(
        "size,seed,acc\n" + "".join(f"{s},{k},{0.1 * s + 0.01 * k}\n" for s in (1, 2) for k in range(4))
    )
    return folder


@pytest.mark.parametrize(
    "argv, match",
    [
        (["discover", "--graph", "cancer", "--prior", "simulated:abc"], "simulated"),
        (["discover", "--graph", "cancer", "--prior", "simulated:2"], "simulated"),
        (["discover", "--graph", "cancer", "--prior", "simulated:0.7", "--experimenter", "noisy:x"], "noisy"),
        (["discover", "--graph", "cancer", "--prior", "simulated:0.7", "--experimenter", "interventional:5"], "20"),
        (["discover", "--graph", "cancer", "--prior", "pc", "--samples", "-5"], "--samples"),
        (["discover", "--graph", "cancer", "--threshold", "nan"], "--threshold"),
        (["discover", "--graph", "cancer", "--per-round", "0"], "--per-round"),
        (["discover", "--graph", "cancer", "--prior", "simulated:0.7", "--run-id", "../../etc/x"], "run id"),
        (["discover", "--graph", "cancer", "--prior", "oracle"], "prior"),
        (["predict", "--graph", "cancer", "--threshold", "5"], "--threshold"),
        (["predict", "--graph", "cancer", "--threshold", "nan"], "--threshold"),
        (["predict", "--graph", "cancer", "--top", "-2"], "--top"),
        (["resume", "no-such-run"], "no discovery run"),
        (["discover", "--graph", "cancer", "--prior", "simulated:0.7", "--timeout", "5"], "--backend openai only"),
        (["llm", "ask", "x?", "--backend", "openai", "--model", "m", "--concurrency", "0"], "--concurrency"),
        (["discover", "--graph", "cancer", "--backend", "openai", "--model", "m", "--timeout", "-1"], "timeout"),
        (["graphs", "show", "no/such/file.json"], "not found"),
        (["nonsense-command"], "invalid choice"),
    ],
)
def test_bad_settings_are_refused_before_any_run_is_saved(capsys, argv, match):
    assert_refused(capsys, *argv, match=match)


def test_settings_that_need_what_the_graph_lacks(capsys, files):
    no_truth, with_truth = str(files / "no_truth.json"), str(files / "with_truth.json")
    assert_refused(capsys, "discover", "--graph", with_truth, "--prior", "pc", match="Bayesian network")
    assert_refused(capsys, "discover", "--graph", with_truth, "--prior", "simulated:0.7", "--strategy", "bootstrap")
    assert_refused(
        capsys, "discover", "--graph", with_truth, "--prior", "simulated:0.7", "--experimenter", "interventional"
    )
    assert_refused(capsys, "discover", "--graph", no_truth, "--prior", "simulated:0.7", match="true graph")
    assert_refused(capsys, "discover", "--graph", no_truth, "--update", "none", match="--experimenter human")


@pytest.mark.parametrize("name", ["laughs.yaml", "latin1.json", "deep.json", "bigint.json"])
def test_hostile_graph_files(capsys, files, name):
    for command in (["graphs", "show"], ["discover", "--prior", "simulated:0.7", "--graph"]):
        assert_refused(capsys, *command, str(files / name))


def test_scaling_analyze_refuses_bad_tables_and_arguments(capsys, files, tmp_path):
    ok = str(files / "ok.csv")
    base = ["scaling", "analyze", "--scale", "size", "--metric", "acc"]
    assert_refused(capsys, *base, "--csv", str(files / "metric_text.csv"), match="acc")
    assert_refused(capsys, *base, "--csv", ok, "--step", "abc", match="step")
    assert_refused(capsys, "scaling", "analyze", "--csv", ok, "--scale", "seed", "--metric", "acc", match="seed")
    assert_refused(capsys, *base, "--csv", ok, "--threshold", "nan", match="--threshold")
    assert_refused(capsys, *base, "--csv", ok, "--plot", str(tmp_path / "missing" / "plot.png"))
    assert_refused(capsys, *base, "--csv", ok, "--plot", str(tmp_path))
    assert_refused(capsys, *base, "--csv", str(files / "metric_inf.csv"), match="infinite")
    code, out, _ = run_cli(capsys, *base, "--csv", ok, "--plot", str(tmp_path / "fine.png"))
    assert code == 0 and f"plot: {tmp_path / 'fine.png'}" in out and (tmp_path / "fine.png").is_file()


def test_unexpected_errors_are_one_line_with_a_way_to_the_traceback(capsys, monkeypatch):
    import discolab.ui.cli as cli

    def broken(_args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "cmd_graphs_list", broken)
    code, _, err = run_cli(capsys, "graphs")
    assert code == 1 and err.count("\n") == 1 and "ZeroDivisionError" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        cli.main(["--debug", "graphs"])


def test_full_disk_and_unwritable_paths_are_one_line(capsys, monkeypatch):
    import errno

    import discolab.ui.cli as cli

    for number in (errno.ENOSPC, errno.EACCES, errno.EROFS):

        def fail(_args, number=number):
            raise OSError(number, "simulated", "/data/runs.sqlite")

        monkeypatch.setattr(cli, "cmd_graphs_list", fail)
        code, _, err = run_cli(capsys, "graphs")
        assert code == 2 and err.count("\n") == 1 and "/data/runs.sqlite" in err


def test_messages_with_control_characters_stay_on_one_line(capsys, monkeypatch):
    import discolab.ui.cli as cli
    from discolab.core.errors import DiscolabError

    def noisy(_args):
        raise DiscolabError("name\n\x1b[31mred\x00" + "x" * 5000)

    monkeypatch.setattr(cli, "cmd_graphs_list", noisy)
    code, _, err = run_cli(capsys, "graphs")
    assert code == 2 and err.count("\n") == 1 and "\x1b" not in err and "\x00" not in err
    assert len(err) <= MAX_MESSAGE_CHARS + 20


# -- generated input ---------------------------------------------------------------------------
cells = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(string.printable.replace(",", "").replace("\n", "").replace("\r", ""), max_size=8),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.lists(st.sampled_from(["size", "seed", "acc", "other", ""]), min_size=1, max_size=5),
    rows=st.lists(st.lists(cells, min_size=0, max_size=6), max_size=12),
)
def test_any_csv_gives_a_report_or_one_line(capsys, tmp_path_factory, header, rows):
    folder = tmp_path_factory.mktemp("csv")
    path = folder / "table.csv"
    path.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows))
    argv = ["scaling", "analyze", "--csv", str(path), "--scale", "size", "--metric", "acc"]
    code, _, err = run_cli(capsys, *argv, "--plot", str(folder / "plot.png"))
    assert code in (0, 2), err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("discolab: error: ") and len(err) <= MAX_MESSAGE_CHARS + 20
