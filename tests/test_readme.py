"""The README as a user meets it: every `lrbench` command line parses with the options it shows,
every Python block compiles, every study file block is a valid study file.

These check what rots first (a renamed flag, a removed option, a typo in an example) without
training anything; the commands that train are run by the tests of each feature.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import typer

from lrbench.cli.main import app
from lrbench.study.studyfile import parse_study_file

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def _command_lines() -> list[str]:
    """Each `lrbench ...` line of the bash blocks, continuations joined, comments, `&` and
    redirections dropped."""
    lines = []
    for block in _blocks("bash"):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = line.split(" #")[0].split(" > ")[0].strip().rstrip("&").strip()
            if line.startswith("lrbench "):
                lines.append(line)
    return lines


def _parse(args: list[str]) -> None:
    """Parse `lrbench ARGS` down to the command, as the CLI would, without running it."""
    command: click.Command = typer.main.get_command(app)
    context = command.make_context("lrbench", args)
    rest = [*getattr(context, "_protected_args", []), *context.args]
    while isinstance(command, click.Group) and rest:
        name, found, rest = command.resolve_command(context, rest)
        assert name is not None and found is not None
        command = found
        context = command.make_context(name, rest, parent=context)
        rest = [*getattr(context, "_protected_args", []), *context.args]


@pytest.mark.parametrize("line", _command_lines())
def test_every_readme_command_parses(line: str) -> None:
    _parse(shlex.split(line)[1:])


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
