"""Every command driven with hostile numbers, and with hostile import files: one line and
exit code 2 (or a normal run, where the value is fine), never a traceback, and a store that
still lists its studies afterwards.

The numeric options are found in the CLI itself, so an option added later is fuzzed too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer

from lrbench.cli.main import app, main
from lrbench.store import Store

# A cheap valid call of each command; the hostile option is appended (the last one wins).
BASE = {
    "policies": ["policies"],
    "schedule": ["schedule", "fixed(lr=0.1)", "-n", "3"],
    "plot": ["plot", "fixed(lr=0.1)", "-n", "3", "-o", "{tmp}/x.png"],
    "tune": ["tune", "--task", "digits-mlp", "--trials", "1", "--total-steps", "3", "--quiet"],
    "report": ["report", "base", "-o", "{tmp}/report"],
    "range-test": ["range-test", "--task", "digits-mlp", "--steps", "5"],
    "recommend": ["recommend", "--task", "digits-mlp"],
    "db ls": ["db", "ls"],
    "db show": ["db", "show", "base"],
    "db top": ["db", "top", "--task", "digits-mlp"],
    "db export": ["db", "export", "base", "-o", "{tmp}/exported.json"],
    "db import": ["db", "import", "{tmp}/base.json", "--name", "imported"],
    "db recipes": ["db", "recipes"],
    "db upgrade": ["db", "upgrade"],
    "scale fit": ["scale", "fit", "base", "--at", "10"],
    "scale predict": ["scale", "predict", "base", "--horizon", "10"],
}
NOT_FUZZED = {"demo": "minutes a run: tests/cli/test_tune_cli.py checks its options"}
HOSTILE = {int: ["-1", "10000000000000", "12abc"], float: ["nan", "1e400", "abc"]}


def _commands(command: Any = None, path: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every leaf command of the CLI by its path ("db show")."""
    command = command or typer.main.get_command(app)
    if not hasattr(command, "list_commands"):
        return {" ".join(path): command}
    context = command.make_context("lrbench", [], resilient_parsing=True)
    found: dict[str, Any] = {}
    for name in command.list_commands(context):
        found |= _commands(command.get_command(context, name), (*path, name))
    return found


def _numeric_options() -> list[tuple[str, str, str]]:
    cases = []
    for path, command in _commands().items():
        if path in NOT_FUZZED:
            continue
        for param in command.params:
            annotation = getattr(param.type_descriptor, "annotation", None)
            number = next((t for t in (int, float) if annotation in (t, t | None)), None)
            if number is not None and param.opts[0].startswith("--") and not param.is_flag:
                cases += [(path, param.opts[0], value) for value in HOSTILE[number]]
    return cases


def test_every_command_has_a_cheap_call_here() -> None:
    assert set(_commands()) - set(NOT_FUZZED) == set(BASE)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A database with one small study `base`, and its export beside it."""
    folder = tmp_path_factory.mktemp("fuzz")
    db = f"sqlite:///{folder / 'fuzz.db'}"
    tune = [*BASE["tune"], "--trials", "2", "--study", "base", "--db", db]
    assert main(tune) == 0
    assert main(["db", "export", "base", "-o", str(folder / "base.json"), "--db", db]) == 0
    return folder, db


def _run(args: list[str], folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main([arg.replace("{tmp}", str(folder)) for arg in args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("path", "option", "value"), _numeric_options())
def test_a_hostile_number_is_one_line_and_exit_2_or_a_normal_run(
    path: str,
    option: str,
    value: str,
    database: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, db = database
    monkeypatch.setenv("LRBENCH_DB", db)
    code, err = _run([*BASE[path], option, value], folder, capsys)
    assert code in (0, 2), err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lrbench: "), lines
    assert "base" in [study.name for study in Store(db).studies()]


def _hostile_exports(export: dict[str, Any]) -> list[Any]:
    trial = export["trials"][0]
    return [
        [],
        "text",
        {"format": export["format"]},
        {**export, "trials": [{**trial, "status": "hacked"}]},
        {**export, "trials": [{**trial, "metrics": {"acc": "high"}}]},
        {**export, "trials": [{**trial, "points": [[1, "x"]]}]},
        {**export, "trials": [{**trial, "cost_tokens": 2**70}]},
        {**export, "study": {**export["study"], "name": "n" * 500}},
        {**export, "task": None},
    ]


def test_hostile_import_files_are_one_line_and_leave_the_store_whole(
    database: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, db = database
    export = json.loads((folder / "base.json").read_text())
    files = [(folder / "not-json.json", "{not json"), (folder / "empty.json", "")]
    for index, data in enumerate(_hostile_exports(export)):
        files.append((folder / f"hostile-{index}.json", json.dumps(data)))
    for path, text in files:
        path.write_text(text)
        code, err = _run(["db", "import", str(path), "--name", "x", "--db", db], folder, capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("lrbench: "), (path, err)
    assert main(["db", "ls", "--db", db]) == 0
    assert "x" not in [study.name for study in Store(db).studies()]
