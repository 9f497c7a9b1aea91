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


def _lines_of(block: str) -> list[str]:
    """The `lrbench ...` lines of a bash block, continuations joined, comments, `&`,
    redirections and a one-line loop's `for ...; do` dropped."""
    lines = []
    for line in re.sub(r"\\\n\s*", " ", block).splitlines():
        line = line.split(" #")[0].split(" > ")[0].strip().rstrip("&").strip()
        line = re.sub(r"^(for .*?;\s*do\s+)|;\s*done$", "", line)
        if line.startswith("lrbench "):
            lines.append(line)
    return lines


def _command_lines() -> list[str]:
    """Each `lrbench ...` line of the bash blocks, a `for` loop's variable at its first
    value."""
    lines = []
    for block in _blocks("bash"):
        loops = re.findall(r"for (\w+) in (\S+)", block)
        for line in _lines_of(block):
            for name, value in loops:
                line = line.replace(f"${name}", value)
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


# README commands the suite does not run here, and what runs them instead.
NOT_RUN = {
    "my_task.py:train": "a sketch (its build_model is the user's): test_examples runs "
    "examples/my_task.py",
    "my_finetune.py:train": "a sketch: test_examples runs examples/hf_trainer.py",
    "--executor ray": "starts Ray: tests/test_ray.py runs a study on it",
    "benchmarks=mmlu-local": "fine-tunes an LLM: tests/integrations/test_lmeval.py",
    "lrbench demo": "minutes: tests/cli/test_tune_cli.py runs `demo --quick`",
    "--objective horizon": "minutes: tests/study/test_horizon_objective.py runs it small",
    "--objective schedule": "minutes: tests/study/test_schedule_objective.py runs it small",
}
# The README's placeholders, as studies the commands before them store.
PLACEHOLDERS = {"STUDY": "shared", "study-a": "digits-40", "study-b": "digits-80"}
_MOST_TRIALS = 4
_STEPS = "40"


def _small(args: list[str]) -> list[str]:
    """`lrbench tune` args on a small budget: at most 4 trials, and 40 steps where the
    line leaves them to the task (and its horizons are not fractions of them)."""
    if args[0] != "tune":
        return args
    args = list(args)
    if "--trials" in args:
        index = args.index("--trials") + 1
        args[index] = str(min(int(args[index]), _MOST_TRIALS))
    if "--total-steps" in args or "--horizons" in args:
        return args
    return [*args, "--total-steps", _STEPS]


def _runnable_lines() -> list[list[str]]:
    """The README's command lines to run, in order (a loop once for each of its values),
    placeholders filled, budgets small."""
    runs = []
    for block in _blocks("bash"):
        loops = re.findall(r"for (\w+) in ([^;]+);", block)
        for line in _lines_of(block):
            if any(marker in line for marker in NOT_RUN):
                continue
            words = [PLACEHOLDERS.get(word, word) for word in shlex.split(line)[1:]]
            expanded = [words]
            for name, values in loops:
                if any(f"${name}" in word for word in words):
                    expanded = [
                        [word.replace(f"${name}", value) for word in words]
                        for value in values.split()
                    ]
            runs += [_small(args) for args in expanded]
    return runs


def test_the_readme_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In README order, in one folder and database, with small budgets (see `NOT_RUN`)."""
    from lrbench.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRBENCH_DB", f"sqlite:///{tmp_path / 'lrbench.db'}")
    study_file = next(b for b in _blocks("yaml") if b.startswith("# study.yaml"))
    (tmp_path / "study.yaml").write_text(study_file)
    for args in _runnable_lines():
        code = main(args)
        assert code == 0, f"lrbench {shlex.join(args)}: {capsys.readouterr().err[-600:]}"
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "lr.png").is_file()
