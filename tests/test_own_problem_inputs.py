"""Every bad input to the options that bring a user's own problem (data, interventions, knowledge,
server settings, export) is refused before a run is saved, with one line naming what is wrong."""

import gzip

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, run_cli
from discolab.agents.discovery import DiscoverySettings, start_discovery
from discolab.agents.discovery.run import list_runs
from discolab.experiments.own_problem import simulate

SMOKING = str(REPO / "docs" / "examples" / "smoking.json")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Good and bad tables over the smoking graph's variables, by name."""
    folder = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(0)
    good = simulate(200, rng)
    tables = {
        "good.csv": good,
        "one-level.csv": good.assign(cough="always"),
        "too-few.csv": good.head(9),
        "all-missing.csv": good.assign(tar=np.nan),
        "extra.csv": good.assign(notes="x"),
        "no-cough.csv": good.drop(columns="cough"),
        "text-tar.csv": good.assign(tar="high"),
    }
    for name, frame in tables.items():
        frame.to_csv(folder / name, index=False)
    good.to_csv(folder / "good.xlsx", index=False)  # CSV bytes under a name no reader takes
    (folder / "empty.csv").write_text("")
    (folder / "binary.parquet").write_bytes(b"PAR1 not really")
    (folder / "dup.csv").write_text("smoking,smoking,tar,cancer,cough\n" + "1,2,3,4,5\n" * 20)
    (folder / "bad.csv.gz").write_bytes(gzip.compress(b"\xff\xfe\x00\x01 not text"))
    interventions = pd.concat([good.assign(intervention=""), simulate(50, rng, "tar").assign(intervention="tar")])
    interventions.to_csv(folder / "interventions.csv", index=False)
    interventions.assign(intervention="").to_csv(folder / "observational-only.csv", index=False)
    interventions.replace({"intervention": {"tar": "nicotine"}}).to_csv(folder / "unknown-do.csv", index=False)
    return folder


DISCOVER = ["discover", "--graph", SMOKING, "--rounds", "1"]
CASES = {
    # observational data
    "no such file": (["--data", "{f}/missing.csv", "--prior", "pc"], "data file not found"),
    "a folder": (["--data", "{f}", "--prior", "pc"], "is a folder"),
    "unknown format": (["--data", "{f}/good.xlsx", "--prior", "pc"], "unknown table format 'good.xlsx'"),
    "empty file": (["--data", "{f}/empty.csv", "--prior", "pc"], "cannot read data"),
    "not parquet": (["--data", "{f}/binary.parquet", "--prior", "pc"], "as Parquet"),
    "not text": (["--data", "{f}/bad.csv.gz", "--prior", "pc"], "cannot read data"),
    "duplicate columns": (["--data", "{f}/dup.csv", "--prior", "pc"], "duplicate column names"),
    "missing column": (["--data", "{f}/no-cough.csv", "--prior", "pc"], "no column for variable(s) 'cough'"),
    "extra column": (["--data", "{f}/extra.csv", "--prior", "pc"], "'notes' match no variable"),
    "ignored column absent": (
        ["--data", "{f}/good.csv", "--prior", "pc", "--ignore-columns", "nope"],
        "--ignore-columns names column(s) 'nope' that the file does not have",
    ),
    "one level": (["--data", "{f}/one-level.csv", "--prior", "pc"], "'cough'"),
    "too few rows": (["--data", "{f}/too-few.csv", "--prior", "ges"], "complete rows"),
    "all rows missing": (["--data", "{f}/all-missing.csv", "--prior", "pc"], "complete rows"),
    "type syntax": (["--data", "{f}/good.csv", "--prior", "pc", "--column-type", "tar"], "NAME=discrete"),
    "type kind": (["--data", "{f}/good.csv", "--prior", "pc", "--column-type", "tar=ordinal"], "NAME=discrete"),
    "type name": (["--data", "{f}/good.csv", "--prior", "pc", "--column-type", "tarr=discrete"], "'tarr'"),
    "text as numbers": (
        ["--data", "{f}/text-tar.csv", "--prior", "pc", "--column-type", "tar=continuous"],
        "not numbers",
    ),
    "data prior, no data": (["--prior", "pc"], "--data FILE"),
    "bootstrap, no data": (["--prior", "simulated:0.6", "--strategy", "bootstrap"], "--data FILE"),
    # interventional data
    "experimenter file missing": (["--prior", "simulated:0.6", "--experimenter", "data:{f}/missing.csv"], "not found"),
    "experimenter no file": (["--prior", "simulated:0.6", "--experimenter", "data:"], "data:FILE"),
    "experimenter no column": (
        ["--prior", "simulated:0.6", "--experimenter", "data:{f}/good.csv"],
        "no column 'intervention'",
    ),
    "experimenter unknown target": (
        ["--prior", "simulated:0.6", "--experimenter", "data:{f}/unknown-do.csv"],
        "'nicotine'",
    ),
    "experimenter nothing set": (
        ["--prior", "simulated:0.6", "--experimenter", "data:{f}/observational-only.csv"],
        "intervene",
    ),
    # knowledge
    "require unknown": (["--prior", "simulated:0.6", "--require", "smoking", "lungs"], "unknown variable 'lungs'"),
    "require and forbid": (
        ["--prior", "simulated:0.6", "--require", "smoking", "tar", "--forbid", "smoking", "tar"],
        "both required and forbidden",
    ),
    "required cycle": (
        ["--prior", "simulated:0.6", "--require", "tar", "cancer", "--require", "cancer", "tar"],
        "form a cycle",
    ),
    "forbid self": (["--prior", "simulated:0.6", "--forbid", "tar", "tar"], "self-loop"),
    "require one name": (["--prior", "simulated:0.6", "--require", "tar"], "expected 2 arguments"),
    # the model server
    "timeout zero": (["--backend", "openai", "--model", "m", "--timeout", "0"], "seconds > 0"),
    "timeout nan": (["--backend", "openai", "--model", "m", "--timeout", "nan"], "not a finite number"),
    "concurrency zero": (["--backend", "openai", "--model", "m", "--concurrency", "0"], "0 is not >= 1"),
    "samples zero": (["--backend", "openai", "--model", "m", "--llm-samples", "0"], "0 is not >= 1"),
    "confidence": (["--backend", "openai", "--model", "m", "--confidence", "maybe"], "invalid choice: 'maybe'"),
    "base url scheme": (["--backend", "openai", "--model", "m", "--base-url", "ftp://host"], "http://"),
    "base url no host": (["--backend", "openai", "--model", "m", "--base-url", "http://"], "with a host"),
    "server flag, local model": (["--timeout", "5"], "--backend openai only"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_naming_it_and_saves_no_run(case, files, capsys):
    arguments, problem = CASES[case]
    before = len(list_runs(limit=10_000))
    code, _, err = run_cli(capsys, *DISCOVER, *(a.replace("{f}", str(files)) for a in arguments))
    assert code == 2, (case, err)
    assert err.count("\n") == 1 and problem in err, (case, err)
    assert len(list_runs(limit=10_000)) == before, case


def test_bad_environment_settings_are_named(files, monkeypatch, capsys):
    base = [*DISCOVER, "--backend", "openai", "--model", "m"]
    for variable, value, problem in [
        ("DISCOLAB_OPENAI_TIMEOUT", "soon", "DISCOLAB_OPENAI_TIMEOUT='soon'"),
        ("DISCOLAB_OPENAI_CONCURRENCY", "0", "DISCOLAB_OPENAI_CONCURRENCY='0'"),
        ("DISCOLAB_OPENAI_CONFIDENCE", "vibes", "DISCOLAB_OPENAI_CONFIDENCE='vibes'"),
        ("OPENAI_BASE_URL", "localhost:8080", "OPENAI_BASE_URL 'localhost:8080'"),
    ]:
        with monkeypatch.context() as env:
            env.setenv(variable, value)
            code, _, err = run_cli(capsys, *base)
            assert code == 2
            assert err.count("\n") == 1 and problem in err, (variable, err)


@pytest.fixture(scope="module")
def finished_run(files):
    settings = DiscoverySettings(graph=SMOKING, prior="simulated:0.6", update="none", rounds=1, per_round=1)
    return start_discovery(settings, run_id="for-bad-exports").run_id


@pytest.mark.parametrize(
    "arguments, problem",
    [
        (["no-such-run", "--format", "dot", "--out", "{f}/x.dot"], "no discovery run with id 'no-such-run'"),
        (["{run}", "--format", "png", "--out", "{f}/x.png"], "invalid choice: 'png'"),
        (["{run}", "--format", "dot", "--round", "7", "--out", "{f}/x.dot"], "rounds 0 to 1, not 7"),
        (["{run}", "--format", "dot", "--round", "-1", "--out", "{f}/x.dot"], "not -1"),
        (["{run}", "--format", "dot", "--out", "{f}/no/folder/x.dot"], "does not exist; create it first"),
        (["{run}", "--format", "dot", "--out", "{f}"], "it is a directory"),
        (["{run}", "--format", "bif", "--out", "{f}/x.bif"], "no discrete data"),
    ],
)
def test_bad_exports_are_named_and_write_nothing(arguments, problem, files, finished_run, capsys):
    line = [a.replace("{f}", str(files)).replace("{run}", finished_run) for a in arguments]
    listed = sorted(p.name for p in files.iterdir())
    code, _, err = run_cli(capsys, "export", *line)
    assert code == 2
    assert err.count("\n") == 1 and problem in err, err
    assert sorted(p.name for p in files.iterdir()) == listed
