"""Every figure in the docs has a command behind it, and the commands the docs name exist.

A table with figures (decimals, thousands, percentages) must sit in a section, or inside a section,
whose text names the command that regenerates it (``python -m discolab....`` or ``discolab ...``),
unless its own rows name commands (a table of commands).
Every ``--flag`` of a named command must be a flag that command's module defines.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
COMMAND = re.compile(r"(python -m discolab\.[\w.]+|(?<![\w/-])discolab [a-z][\w-]*)")
FIGURE = re.compile(r"\d\.\d|\d,\d{3}|\d%")
MODULE_COMMAND = re.compile(r"python -m (discolab\.[\w.]+)((?:[ \t]+(?:--?[\w-]+|[^\s`|#<>\[\]]+))*)")


def tables_without_a_command(text: str) -> list[tuple[int, str]]:
    """(line, heading) of each figure table whose section and enclosing sections name no command."""
    sections: list[list] = []  # [level, heading, names a command]
    above_first_heading = False
    in_code = False
    table: list[str] = []
    covered, start, missing = False, 0, []
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if not in_code and line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            while sections and sections[-1][0] >= level:
                sections.pop()
            sections.append([level, line.strip("# "), False])
        is_row = line.startswith("|") and not in_code
        if COMMAND.search(line) and not is_row:
            if sections:
                sections[-1][2] = True
            else:
                above_first_heading = True
        if is_row:
            if not table:
                start, covered = number, above_first_heading or any(s[2] for s in sections)
            table.append(line)
            continue
        # a table of commands (its rows name them) is its own reference
        covered = covered or any(COMMAND.search(row) for row in table)
        if table and not covered and any(FIGURE.search(row) for row in table[2:]):
            missing.append((start, sections[-1][1] if sections else ""))
        table = []
    return missing


def module_flags(module: str) -> set[str]:
    """The ``--flags`` a module's source defines (its argparse calls, and the shared sweep flags)."""
    path = ROOT / Path(*module.split(".")[1:]).with_suffix(".py")
    if not path.is_file():
        return set()
    source = path.read_text()
    if "add_sweep_arguments" in source:
        source += (ROOT / "experiments" / "sweep.py").read_text()
    return set(re.findall(r"[\"'](--[\w-]+)[\"']", source))


def test_the_table_check_can_fail():
    page = "# Results\n\nSome prose.\n\n| a | b |\n|--|--|\n| x | 0.93 |\n"
    assert tables_without_a_command(page) == [(5, "Results")]
    assert tables_without_a_command(page.replace("Some prose.", "`python -m discolab.experiments.x`")) == []
    nested = "## Results\n`discolab ddeq eval`\n### Part\n| a |\n|--|\n| 1.5 |\n"
    assert tables_without_a_command(nested) == []
    descriptive = "# Words\n| name | what |\n|--|--|\n| x | a setting |\n"
    assert tables_without_a_command(descriptive) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_figure_table_names_a_regenerating_command(page):
    missing = tables_without_a_command(page.read_text())
    assert not missing, f"{page.name}: tables with figures but no command in their section: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_commands_the_docs_name_exist_with_their_flags(page):
    for module, arguments in MODULE_COMMAND.findall(page.read_text()):
        module = module.rstrip(".")
        path = ROOT / Path(*module.split(".")[1:]).with_suffix(".py")
        assert path.is_file(), f"{page.name} names `python -m {module}`, which does not exist"
        defined = module_flags(module)
        for flag in re.findall(r"(--[\w-]+)", arguments):
            assert flag in defined, f"{page.name}: `python -m {module}` has no flag {flag}"


def subcommand_flags(parser, words: list[str]) -> tuple[list[str], set[str]]:
    """Follow ``words`` down the CLI's subcommands; the path taken and the flags defined there."""
    import argparse

    path = []
    for word in words:
        choices = next((a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if not choices or word not in choices:
            break
        parser = choices[word]
        path.append(word)
    return path, {option for action in parser._actions for option in action.option_strings}


CLI_COMMAND = re.compile(r"(?<![\w/.-])discolab((?:[ \t]+[a-z][\w-]*)+)((?:[ \t]+[^\s`|#]+)*)")


@pytest.fixture(scope="module")
def cli_parser():
    from discolab.ui.cli import build_parser

    return build_parser()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_cli_commands_the_docs_name_exist_with_their_flags(page, cli_parser):
    for line in page.read_text().splitlines():
        for words, rest in CLI_COMMAND.findall(line.split(" # ")[0]):
            path, flags = subcommand_flags(cli_parser, words.split())
            if not path:
                continue  # prose ("discolab is ..."), not a command
            for flag in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", words + rest):
                assert flag in flags, f"{page.name}: `discolab {' '.join(path)}` has no flag {flag} ({line.strip()})"
