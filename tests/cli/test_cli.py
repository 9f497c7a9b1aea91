"""The `lrbench` command: outputs, exit codes, and one-line errors."""

from __future__ import annotations

import inspect
import json
import struct
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
import typer
from rich.text import Text

import lrbench
from lrbench.cli.main import app, main
from lrbench.policies import policy_names
from lrbench.store import Store, TaskInfo

LRBENCH = str(Path(sys.executable).parent / "lrbench")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real installed command, as a user runs it."""
    return subprocess.run([LRBENCH, *args], capture_output=True, text=True, timeout=120)


def test_schedule_json_is_exactly_one_array_of_n_numbers() -> None:
    spec = "cosine(lr=0.1,min_lr=0.001,total_steps=100,warmup_steps=10)"
    result = run("schedule", spec, "--steps", "120", "--format", "json")
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert len(values) == 120 and all(isinstance(v, float) for v in values)
    np.testing.assert_array_equal(values, lrbench.parse(spec).values(np.arange(120)))


def test_schedule_csv_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedule", "exp(lr=0.5,gamma=0.5)", "-n", "3", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "step,lr\n0,0.5\n1,0.25\n2,0.125\n"
    assert main(["schedule", "exp(lr=0.5,gamma=0.5)", "-n", "2", "--start", "10"]) == 0
    assert capsys.readouterr().out.split("\n")[1:3] == [
        "  10  0.00048828125",
        "  11  0.00024414062",
    ]


def test_policies_lists_every_policy_with_parameters_and_formula(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policies", "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert sorted(e["name"] for e in entries) == sorted(policy_names())
    cosine = next(e for e in entries if e["name"] == "cosine")
    assert cosine["formula"] and "torch CosineAnnealingLR" in cosine["same_as"]
    assert {p["name"]: p["required"] for p in cosine["parameters"]}["total_steps"] is True
    assert main(["policies"]) == 0
    human = capsys.readouterr().out
    assert all(name in human for name in ("wsd", "cos_rsw_exp", "switch_on_plateau"))


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_png_and_svg(tmp_path: Path) -> None:
    png = tmp_path / "lr.png"
    result = run(
        "plot",
        "cosine(lr=0.1,total_steps=100)",
        "triangle(min_lr=0.01,max_lr=0.1,half_cycle=10)",
        "-n",
        "100",
        "-o",
        str(png),
    )
    assert result.returncode == 0, result.stderr
    assert png_size(png) == (1600, 1000)
    svg = tmp_path / "sub" / "lr.svg"
    assert main(["plot", "exp(lr=0.1,gamma=0.9)", "-n", "50", "--log-y", "-o", str(svg)]) == 0
    assert svg.read_text().lstrip().startswith("<?xml") and "</svg>" in svg.read_text()


@pytest.mark.parametrize(
    "command",
    [
        "policies",
        "schedule",
        "plot",
        "demo",
        "tune",
        "db",
        "db ls",
        "db show",
        "db top",
        "db export",
        "db import",
        "db upgrade",
        "scale",
        "scale fit",
        "scale predict",
    ],
)
def test_every_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command.split(), "--help"]) == 0
    assert "Examples:" in capsys.readouterr().out


BAD_INPUT = [
    (["schedule", "cosin(lr=0.1,total_steps=10)", "-n", "5"], "did you mean cosine"),
    (["schedule", "cosine(lr=0.1)", "-n", "5"], "missing parameter `total_steps`"),
    (
        ["schedule", "cosine(lr=0.1,total_steps=10,lr_min=0)", "-n", "5"],
        "unknown parameter `lr_min`",
    ),
    (["schedule", "fixed(lr=-1)", "-n", "5"], "`fixed.lr` must be a finite number > 0"),
    (["schedule", "fixed(lr=0)", "-n", "5"], "`fixed.lr` must be a finite number > 0"),
    (
        ["schedule", "cosine(lr=0.1,min_lr=0.5,total_steps=10)", "-n", "5"],
        "`cosine.min_lr` must be <= `lr`",
    ),
    (
        ["schedule", "linear(lr=0.1,total_steps=10,warmup_steps=10)", "-n", "5"],
        "`linear.warmup_steps` must be < `total_steps`",
    ),
    (
        ["schedule", "multistep(lr=0.1,gamma=0.1,milestones=[5,2])", "-n", "5"],
        "must be sorted in strictly increasing order",
    ),
    (
        ["schedule", "sequence(stages=[fixed(lr=1),fixed(lr=2)],boundaries=[9,4])", "-n", "5"],
        "must be sorted in strictly increasing order",
    ),
    (["schedule", "cosine(lr=0.1 total_steps=10)", "-n", "5"], "at column 15"),
    (["schedule", "fixed(lr=0.1)", "-n", "0"], "--steps"),
    (["schedule", "fixed(lr=0.1)", "-n", "ten"], "--steps"),
    (["schedule", "fixed(lr=0.1)", "-n", "-3"], "--steps"),
    (["schedule", "fixed(lr=0.1)"], "Missing option '--steps'"),
    (["plot", "fixed(lr=0.1)", "-n", "5", "-o", "lr.jpeg"], "`--output` must end in .png"),
    (["policies", "nope"], "unknown policy 'nope'"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT)
def test_bad_input_is_one_line_on_stderr_with_exit_code_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrbench: error: ")
    assert message in lines[0]


def test_bad_input_through_the_real_command_has_no_traceback() -> None:
    result = run("schedule", "cosine(lr=0.1,total_steps=10", "--steps", "3")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_text_with_colons_prints_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    from lrbench.cli._common import stdout

    stdout.print("task my_task.py:train: 5 trials :smile:")
    assert capsys.readouterr().out == "task my_task.py:train: 5 trials :smile:\n"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"lrbench {lrbench.__version__}\n"


def test_a_usage_error_in_a_group_points_at_its_commands_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["db", "export", "some-study"]) == 2
    assert "(see `lrbench db export --help`)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    [
        ["db", "ls"],
        ["db", "show", "some-study"],
        ["db", "top", "--task", "digits-mlp"],
        ["db", "export", "some-study", "-o", "out.json"],
        ["report", "some-study", "-o", "report"],
        ["plot", "--study", "some-study", "-o", "study.png"],
    ],
)
def test_reading_commands_leave_no_database_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    missing = tmp_path / "none.db"
    assert main([*command, "--db", f"sqlite:///{missing}"]) == 2
    assert f"no database at {missing}: nothing is stored there yet" in capsys.readouterr().err
    assert not missing.exists()


def test_advice_needs_no_database_and_leaves_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    db = f"sqlite:///{missing}"
    assert main(["db", "recipes", "--db", db, "--format", "json"]) == 0
    assert any(r["name"] == "alpaca-7b" for r in json.loads(capsys.readouterr().out))
    assert main(["recommend", "--task", "digits-mlp", "--db", db, "--format", "json"]) == 0
    assert not missing.exists()


def _commands(command: click.Command, path: tuple[str, ...] = ()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_no_help_text_loses_brackets_or_colons_to_markup() -> None:
    """Typer renders help as rich markup: `[lo, hi]` or `file.py:train:` must be escaped."""
    for path, command in _commands(typer.main.get_command(app)):
        texts = [command.help or "", *(getattr(p, "help", "") or "" for p in command.params)]
        for text in map(inspect.cleandoc, texts):
            shown = Text.from_markup(text).plain
            assert shown == text.replace("\\[", "["), f"`lrbench {' '.join(path)}`: {text!r}"


def test_names_with_brackets_and_colons_print_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'names.db'}"
    store = Store(db)
    name = "[red]lr[/red] my_task.py:train: [lo, hi]"
    store.create_study(
        name=name, task=store.task(TaskInfo(name="task:smile:[x]")), objective="single-policy",
        metric="acc", mode="max", strategy="grid",
        config={"config": {"total_steps": 10, "lr_min": 0.1, "lr_max": 1.0, "seeds": 1}},
        trials=[],
    )  # fmt: skip
    assert main(["db", "ls", "--db", db]) == 0
    assert name in capsys.readouterr().out.replace("\n", "")
    assert main(["db", "show", name, "--db", db]) == 0
    shown = capsys.readouterr().out
    assert name in shown and "task task:smile:[x]" in shown


def test_every_styled_line_asks_for_markup() -> None:
    """Consoles print without markup: a line built with `emphasis` must say `markup=True`, or
    its `[bold]` tags print as text (a fresh-clone demo showed them once)."""
    import ast

    source = Path(lrbench.__file__).parent / "cli"
    for path in sorted(source.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "print"):
                continue
            styled = any(
                isinstance(inner, ast.Call) and getattr(inner.func, "id", "") == "emphasis"
                for argument in node.args
                for inner in ast.walk(argument)
            )
            markup = any(
                k.arg == "markup" and getattr(k.value, "value", None) is True
                for k in node.keywords
            )
            assert markup or not styled, f"{path.name}:{node.lineno} styles without markup=True"
