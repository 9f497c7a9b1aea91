"""The README as a user meets it: every `lrbench` command line parses with the options it shows,
every Python block compiles, every study file block is a valid study file.

These check what rots first (a renamed flag, a removed option, a typo in an example) without
training anything; the commands that train are run by the tests of each feature.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import tomllib
import typer

from lrbench.cli.main import app
from lrbench.study.studyfile import parse_study_file

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def _command_lines() -> list[str]:
    """Each `lrbench ...` line of the bash blocks, continuations joined, comments, `&` and
    redirections dropped, a `for` loop's variable at its first value."""
    lines = []
    for block in _blocks("bash"):
        loops = dict(
            re.findall(r"for (\w+) in (\S+)", block)
        )  # each loop variable: its first value
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = line.split(" #")[0].split(" > ")[0].strip().rstrip("&").strip()
            line = re.sub(r"^(for .*?;\s*do\s+)|;\s*done$", "", line)
            for name, value in loops.items():
                line = line.replace(f"${name}", value)
            if line.startswith("lrbench "):
                lines.append(line)
    return lines


def _parse(args: list[str]) -> None:
    """Parse `lrbench ARGS` down to the command, as the CLI would, without running it.
    (Typer carries its own copy of click: a group is told by `resolve_command`.)"""
    command: Any = typer.main.get_command(app)
    context = command.make_context("lrbench", args)
    rest = [*getattr(context, "_protected_args", []), *context.args]
    while hasattr(command, "resolve_command") and rest:
        name, found, rest = command.resolve_command(context, rest)
        assert name is not None and found is not None
        command = found
        context = command.make_context(name, rest, parent=context)
        rest = [*getattr(context, "_protected_args", []), *context.args]


@pytest.mark.parametrize("line", _command_lines())
def test_every_readme_command_parses(line: str) -> None:
    _parse(shlex.split(line)[1:])


@pytest.mark.parametrize(
    "args",
    [["tune", "--task", "x", "--bogus"], ["db", "lss"], ["tune", "--trials", "abc"],
     ["db", "show", "--nope"]],
)  # fmt: skip
def test_the_check_refuses_what_the_cli_refuses(args: list[str]) -> None:
    with pytest.raises(Exception, match="No such|valid integer"):
        _parse(args)


def test_the_readme_shows_commands_of_every_kind() -> None:
    commands = {shlex.split(line)[1] for line in _command_lines()}
    assert {"tune", "demo", "range-test", "db", "report", "recommend", "scale"} <= commands


@pytest.mark.parametrize("block", _blocks("python"))
def test_every_readme_python_block_compiles(block: str) -> None:
    compile(block, "README.md", "exec")


@pytest.mark.parametrize("block", _blocks("yaml"))
def test_every_readme_study_file_is_valid(block: str) -> None:
    options = parse_study_file(block, "README.md")
    assert options["task"]


def test_every_extra_the_readme_installs_exists() -> None:
    """`pip install -e '.[ray]'` lines name extras of this clone's pyproject.toml."""
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    extras = set(project["project"]["optional-dependencies"])
    named = {
        extra.strip()
        for group in re.findall(r"pip install -e ['\"]\.\[([^\]]+)\]", README)
        for extra in group.split(",")
    }
    assert named and named <= extras, named - extras
