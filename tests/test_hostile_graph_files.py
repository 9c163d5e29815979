"""Hostile and careless inputs: graph files and scaling tables that must fail fast, in one line.

Every bad graph file must give a GraphFileError whose message is one printable line of bounded
length, in well under a second and without large memory, never another exception; the scaling
analysis must refuse bad tables, settings and plot paths with a DiscolabError.
"""

import errno
import json
import math
import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest
import yaml
from discolab.core.errors import DiscolabError, GraphFileError
from discolab.core.graphs import GraphSpec, Variable, load_graph_file
from discolab.core.graphs.spec import MAX_FILE_BYTES, MAX_VARIABLES
from discolab.core.scaling import analyze
from discolab.core.scaling.analysis import select_rows
from discolab.core.scaling.plots import save_report_figure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

MESSAGE_LIMIT = 600

GOOD = {
    "name": "g",
    "context": "c",
    "variables": [{"name": "a", "description": "A thing."}, {"name": "b", "description": "B thing."}],
    "edges": [["a", "b"]],
}

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def check_message(err: Exception) -> str:
    """The error's message, asserted to be one printable line of bounded length."""
    message = str(err)
    assert "\n" not in message and message.isprintable(), message[:300]
    assert len(message) <= MESSAGE_LIMIT, (len(message), message[:300])
    return message


def refused(path, match, seconds=2.0, **kwargs) -> str:
    """Load ``path``, expecting a quick GraphFileError matching ``match``; its message."""
    start = time.perf_counter()
    with pytest.raises(GraphFileError, match=match) as err:
        load_graph_file(path, **kwargs)
    assert time.perf_counter() - start < seconds
    return check_message(err.value)


def write(folder, content, name="g.json"):
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def with_variable(**fields):
    """GOOD with its first variable changed."""
    first = {**GOOD["variables"][0], **fields}
    return {**GOOD, "variables": [first, GOOD["variables"][1]]}


# -- parsing: size, encoding, YAML aliases, nesting, numbers ----------------------------------------


def test_billion_laughs_is_refused_in_milliseconds_and_little_memory(tmp_path):
    assert len(BILLION_LAUGHS) < 500
    path = write(tmp_path, BILLION_LAUGHS, "laughs.yaml")
    tracemalloc.start()
    try:
        message = refused(path, "aliases expand beyond 10,000 nodes", seconds=1.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000
    assert "line 5" in message  # where the expansion crossed the bound (at e: 9 x 7,381 nodes)


def test_a_few_aliases_are_still_fine(tmp_path):
    text = (
        "name: g\ncontext: &same Context shared.\nvariables:\n"
        "  - {name: a, description: *same}\n  - {name: b, description: *same}\nedges: [[a, b]]\n"
    )
    spec = load_graph_file(write(tmp_path, text, "g.yaml"))
    assert spec.description("a") == spec.context == "Context shared."


def test_a_recursive_yaml_alias_is_refused(tmp_path):
    refused(write(tmp_path, "name: g\nvariables: &v [*v]\n", "g.yaml"), "alias inside its own anchor")


@pytest.mark.parametrize("depth", [60, 100_000])
def test_deep_nesting_is_refused_in_json_and_yaml(tmp_path, depth):
    nested = "[" * depth + "]" * depth
    refused(write(tmp_path, f'{{"name": "g", "variables": {nested}}}'), "nested deeper than 50 levels")
    # libyaml stops at its own depth limit when it reads far enough ahead to see it first
    refused(write(tmp_path, f"name: g\nvariables: {nested}\n", "g.yaml"), "nested deeper than 50 levels|nesting depth")
    block = "".join(" " * i + "-\n" for i in range(100))  # block style: no lookahead
    refused(write(tmp_path, f"name: g\nvariables:\n{block}", "g.yaml"), "nested deeper than 50 levels")


def test_deep_nesting_through_yaml_aliases_is_refused(tmp_path):
    deep = "[" * 30 + "x" + "]" * 30
    text = f"a: &a {deep}\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    refused(write(tmp_path, text, "g.yaml"), "nested deeper than 50 levels")


def test_latin1_file_names_the_byte_and_offset(tmp_path):
    data = {**GOOD, "context": "Café customers."}
    path = write(tmp_path, json.dumps(data, ensure_ascii=False).encode("latin-1"))
    offset = json.dumps(data, ensure_ascii=False).index("é")
    message = refused(path, "not UTF-8 text")
    assert f"byte 0xe9 at offset {offset}" in message and "save the file as UTF-8" in message


@pytest.mark.parametrize("encoding, match", [("utf-16", "is UTF-16 text"), ("utf-32", "is UTF-32 text")])
def test_utf16_and_utf32_with_a_byte_order_mark_are_named(tmp_path, encoding, match):
    refused(write(tmp_path, json.dumps(GOOD).encode(encoding)), match)


def test_utf16_without_a_byte_order_mark_and_binary_files_are_refused(tmp_path):
    refused(write(tmp_path, json.dumps(GOOD).encode("utf-16-le")), "NUL bytes")
    refused(
        write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "g.yaml"), "not UTF-8 text \\(byte 0x89 at offset 0\\)"
    )


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + json.dumps(GOOD).encode())
    assert load_graph_file(path).names == ["a", "b"]
    path = write(tmp_path, b"\xef\xbb\xbf" + yaml.safe_dump(GOOD).encode(), "g.yaml")
    assert load_graph_file(path).names == ["a", "b"]


def test_a_yaml_file_of_very_many_nodes_is_refused_quickly(tmp_path):
    refused(
        write(tmp_path, "name: g\nvariables: [" + "a," * 1_000_000 + "]\n", "g.yaml"), "more than 100,000 YAML nodes", 5
    )


def test_an_oversized_file_is_refused_without_parsing(tmp_path):
    path = write(tmp_path, b"[" + b" " * MAX_FILE_BYTES + b"]")
    refused(path, "larger than 5 MB")


def test_a_5001_digit_integer_is_refused(tmp_path):
    number = "7" * 5001
    refused(write(tmp_path, f'{{"name": "g", "variables": [{number}]}}'), "a number 5,001 characters long")
    refused(write(tmp_path, f"name: g\nvariables: [{number}]\n", "g.yaml"), "a number 5,001 characters long")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_json_nan_and_infinity_are_refused(tmp_path, constant):
    refused(write(tmp_path, f'{{"name": "g", "variables": [{constant}]}}'), "cannot parse")


def test_yaml_scalars_that_cannot_be_read_get_a_located_error(tmp_path):
    refused(write(tmp_path, "name: g\ncontext: 2001-13-45\n", "g.yaml"), "cannot read '2001-13-45'.*line 2")


def test_yaml_error_messages_do_not_echo_a_long_tag(tmp_path):
    message = refused(write(tmp_path, "name: !<" + "x" * 100_000 + "> g\n", "g.yaml"), "cannot parse")
    assert len(message) < 400


def test_yaml_keys_of_mixed_types_are_reported_not_sorted_into_a_crash(tmp_path):
    refused(write(tmp_path, "name: g\n1: x\nnull: y\n", "g.yaml"), r"unknown field\(s\) \[1, None\]")


# -- content: names, descriptions, counts ------------------------------------------------------------


@pytest.mark.parametrize(
    "name, shown",
    [
        ("a\nb", r"'a\\nb'"),
        ("red\x1b[31m", r"'red\\x1b\[31m'"),
        ("nul\x00", r"'nul\\x00'"),
        ("tab\tbed", r"'tab\\tbed'"),
        ("rtl\u202eevil", r"'rtl\\u202eevil'"),
    ],
)
def test_names_with_control_characters_are_refused_and_shown_escaped(tmp_path, name, shown):
    message = refused(
        write(tmp_path, with_variable(name=name)), f"variables\\[0\\] name {shown} contains the non-printable"
    )
    assert "\x1b" not in message and "\x00" not in message


def test_a_control_character_in_the_graph_name_is_refused(tmp_path):
    refused(write(tmp_path, {**GOOD, "name": "g\x07"}), "graph name 'g\\\\x07' contains the non-printable")


def test_a_megabyte_name_is_quoted_in_part(tmp_path):
    message = refused(
        write(tmp_path, with_variable(name="x" * 1_000_000)), "1,000,000 characters long \\(at most 100\\)"
    )
    assert "x" * 40 not in message


def test_descriptions_and_context_allow_newlines_but_no_other_control_characters(tmp_path):
    spec = load_graph_file(
        write(tmp_path, {**with_variable(description="Line one.\nLine two.\tTabbed."), "context": "A\nB"})
    )
    assert spec.description("a") == "Line one.\nLine two.\tTabbed." and spec.context == "A\nB"
    refused(
        write(tmp_path, with_variable(description="Bold \x1b[1mtext")),
        r"variable a: description contains the control or invisible character '\\x1b'",
    )
    refused(
        write(tmp_path, {**GOOD, "context": "over\rwritten"}),
        r"context contains the control or invisible character '\\r'",
    )
    refused(write(tmp_path, {**GOOD, "context": "reads \u202ebackwards"}), r"context contains the control or invisible")
    refused(write(tmp_path, with_variable(description="half \ud800 pair")), "lone surrogate")


def test_over_long_descriptions_and_context_are_refused(tmp_path):
    refused(write(tmp_path, with_variable(description="d" * 2_001)), "description is 2,001 characters long")
    refused(write(tmp_path, {**GOOD, "context": "c" * 50_000}), "context is 50,000 characters long")


def test_many_bad_names_are_summarized(tmp_path):
    variables = [{"name": f"v{i}\n", "description": "x"} for i in range(300)]  # stripped: fine
    variables += [{"name": f"w{i}\x1b" + "y" * 500, "description": "x"} for i in range(300)]
    message = refused(write(tmp_path, {"name": "g", "variables": variables}), "and 295 more")
    assert message.count("characters long") == 5


def test_too_many_variables_are_refused_before_looking_at_them(tmp_path, monkeypatch):
    variables = [{"name": f"v{i}", "description": "A variable."} for i in range(MAX_VARIABLES + 1)]
    path = write(tmp_path, {"name": "g", "variables": variables})
    refused(path, "2,001 variables, more than the limit of 2,000 \\(set DISCOLAB_MAX_VARIABLES")
    assert len(load_graph_file(path, max_variables=3_000).variables) == MAX_VARIABLES + 1
    monkeypatch.setenv("DISCOLAB_MAX_VARIABLES", "1")
    refused(write(tmp_path, GOOD), "2 variables, more than the limit of 1")
    monkeypatch.setenv("DISCOLAB_MAX_VARIABLES", "lots")
    with pytest.raises(DiscolabError, match="DISCOLAB_MAX_VARIABLES must be a positive whole number"):
        load_graph_file(write(tmp_path, GOOD))


def test_more_edges_than_ordered_pairs_are_refused_before_looking_at_them(tmp_path):
    refused(write(tmp_path, {**GOOD, "edges": [["a", "b"]] * 3}), "3 edges, more than the 2 ordered pairs")


def test_a_long_cycle_is_shown_in_part(tmp_path):
    names = [f"v{i}" for i in range(100)]
    data = {
        "name": "g",
        "variables": [{"name": n, "description": "A variable."} for n in names],
        "edges": [[names[i], names[(i + 1) % 100]] for i in range(100)],
    }
    message = refused(write(tmp_path, data), "found cycle v0 -> v1 -> v2 -> v3 -> v4 -> ... -> v0")
    assert len(message) < 250


def test_specs_built_in_code_obey_the_same_rules():
    with pytest.raises(GraphFileError, match="non-printable"):
        GraphSpec("g", "c", (Variable("a\x1b", "x"),))
    with pytest.raises(GraphFileError, match="description is 2,001 characters long"):
        GraphSpec("g", "c", (Variable("a", "x" * 2_001),))
    long_name = GraphSpec("n" * 100, "c", (Variable("a", "x"),))
    assert len(long_name.renamed()[0].name) == 100  # the renamed variant stays within the limit


# -- generated files -------------------------------------------------------------------------------

# Names: mostly plain (so that many graphs get as far as the edge and cycle checks), some of any
# characters at all (control characters, surrogates, empty).
names = st.text("abcxy", min_size=1, max_size=4) | st.text(max_size=12)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4), max_leaves=12
)


@st.composite
def graphs(draw):
    """A graph file's structure: well-formed in shape, with content that may break any rule, and
    now and then one field replaced by an arbitrary value."""
    variable = st.fixed_dictionaries({"name": names, "description": st.text(max_size=30)})
    variables = draw(st.lists(variable, min_size=1, max_size=6))
    known = [v["name"] for v in variables] + draw(st.lists(names, max_size=2))
    data = {
        "name": draw(names),
        "context": draw(st.text(max_size=30)),
        "variables": variables,
        "edges": draw(st.lists(st.lists(st.sampled_from(known), min_size=2, max_size=2), max_size=6)),
    }
    if draw(st.booleans()):
        data[draw(st.sampled_from([*data, "extra"]))] = draw(json_values)
    return data


HYPOTHESIS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("generated")


def loads_or_refuses(path) -> None:
    """``load_graph_file`` gives a GraphSpec or a bounded GraphFileError, nothing else."""
    try:
        spec = load_graph_file(path)
    except GraphFileError as err:
        check_message(err)
    else:
        assert isinstance(spec, GraphSpec) and spec.variables


@HYPOTHESIS
@given(data=graphs() | json_values)
def test_generated_structures_load_or_are_refused(scratch, data):
    loads_or_refuses(write(scratch, json.dumps(data)))
    loads_or_refuses(write(scratch, yaml.safe_dump(data, allow_unicode=True), "g.yaml"))


@HYPOTHESIS
@given(raw=st.binary(max_size=200), suffix=st.sampled_from([".json", ".yaml"]))
def test_generated_bytes_load_or_are_refused(scratch, raw, suffix):
    loads_or_refuses(write(scratch, raw, "g" + suffix))


@HYPOTHESIS
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_generated_yaml_text_loads_or_is_refused(scratch, text):
    loads_or_refuses(write(scratch, text.encode("utf-8", "surrogatepass"), "g.yaml"))


def test_the_cli_reports_a_hostile_graph_file_in_one_line(tmp_path, capsys):
    from discolab.ui.cli import main

    code = main(["graphs", "show", str(write(tmp_path, BILLION_LAUGHS, "laughs.yaml"))])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("discolab: error:") and err.count("\n") == 1 and "aliases expand" in err


# -- scaling tables, settings and plot paths ---------------------------------------------------------


def runs_table():
    rng = np.random.default_rng(0)
    rows = [
        {"size": size, "seed": seed, "acc": float(rng.uniform(0, 1)), "step": 10, "config_hash": f"h{size}"}
        for size in (1, 2, 4)
        for seed in range(6)
    ]
    return pd.DataFrame(rows)


def scaling_refused(call, match) -> str:
    with pytest.raises(DiscolabError, match=match) as err:
        call()
    return check_message(err.value)


def test_text_in_the_metric_column_is_named_with_an_example():
    table = runs_table().astype({"acc": object})
    table.loc[3, "acc"] = "n/a"
    scaling_refused(
        lambda: analyze(table, "size", "acc"), "column 'acc' must hold numbers, but 1 value\\(s\\) do not, e.g. 'n/a'"
    )


def test_infinite_metric_values_are_refused_with_a_count():
    table = runs_table()
    table.loc[[1, 4], "acc"] = [math.inf, -math.inf]
    scaling_refused(lambda: analyze(table, "size", "acc"), "column 'acc' holds 2 infinite value\\(s\\)")


def test_numbers_stored_as_text_still_work():
    table = runs_table().astype({"acc": str})
    assert analyze(table, "size", "acc", threshold=0.5).settings["n"].tolist() == [6, 6, 6]


@pytest.mark.parametrize("threshold", [math.nan, math.inf, -math.inf, "abc"])
def test_a_threshold_must_be_finite(threshold):
    scaling_refused(lambda: analyze(runs_table(), "size", "acc", threshold=threshold), "must be a finite number")


@pytest.mark.parametrize("scale, metric, seed, match", [
    ("seed", "acc", "seed", "the scale and seed columns are both 'seed'"),
    ("acc", "acc", "seed", "the scale and metric columns are both 'acc'"),
    ("width", "acc", "seed", "column\\(s\\) width not in the table; it has: size, seed, acc"),
])  # fmt: skip
def test_scale_metric_and_seed_must_be_three_existing_columns(scale, metric, seed, match):
    scaling_refused(lambda: analyze(runs_table(), scale, metric, seed), match)


def test_a_wide_table_lists_only_some_columns():
    table = pd.concat(
        [runs_table(), pd.DataFrame(0, index=range(18), columns=[f"extra_{i}" for i in range(500)])], axis=1
    )
    scaling_refused(lambda: analyze(table, "size", "nope"), "and 485 more")


@pytest.mark.parametrize("step", ["abc", "1.5", "-3", "9" * 5000, None])
def test_a_step_must_be_last_all_or_a_number(step):
    scaling_refused(lambda: select_rows(runs_table(), {}, step), "step must be last, all or a step number")


def test_step_selection():
    table = pd.concat([runs_table(), runs_table().assign(step=20)])
    assert len(select_rows(table, {}, "last")) == 18 and set(select_rows(table, {}, "last")["step"]) == {20}
    assert len(select_rows(table, {}, "10")) == 18 and len(select_rows(table, {}, 20)) == 18
    assert len(select_rows(table, {}, "all")) == 36
    scaling_refused(lambda: select_rows(table, {}, "30"), "no rows at step 30; the table's steps run from 10 to 20")
    plain = runs_table().drop(columns=["step", "config_hash"])
    assert len(select_rows(plain, {}, "last")) == 18  # one row per run already
    scaling_refused(lambda: select_rows(plain, {}, "5"), "no 'step' column")
    no_runs = table.drop(columns=["config_hash"])
    scaling_refused(lambda: select_rows(no_runs, {}, "last"), "needs config_hash and seed columns")


@pytest.fixture(scope="module")
def report():
    return analyze(runs_table(), "size", "acc", threshold=0.5)


def test_a_plot_path_without_suffix_gets_png_and_is_returned(tmp_path, report):
    written = save_report_figure(report, tmp_path / "plot")
    assert written == tmp_path / "plot.png" and written.stat().st_size > 1_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png"]  # no temporary file left


def test_plot_paths_that_cannot_be_written_are_named(tmp_path, report):
    scaling_refused(lambda: save_report_figure(report, tmp_path), f"{tmp_path} is a folder")
    missing = tmp_path / "no" / "such" / "plot.png"
    scaling_refused(lambda: save_report_figure(report, missing), f"the folder {missing.parent} does not exist")
    assert not (tmp_path / "no").exists()
    (tmp_path / "file").write_text("x")
    scaling_refused(lambda: save_report_figure(report, tmp_path / "file" / "plot.png"), "does not exist")
    scaling_refused(lambda: save_report_figure(report, tmp_path / "plot.v2"), "\\.v2 is not an image type")


def test_an_unwritable_plot_folder_is_a_one_line_error_and_leaves_nothing(tmp_path, report, monkeypatch):
    def refuse(self, fname, **kwargs):
        open(fname, "wb").close()  # a partial file, then the failure
        raise PermissionError(errno.EACCES, "Permission denied", str(fname))

    monkeypatch.setattr(Figure, "savefig", refuse)
    scaling_refused(lambda: save_report_figure(report, tmp_path / "plot.png"), "not writable .*Permission denied")
    assert list(tmp_path.iterdir()) == []
