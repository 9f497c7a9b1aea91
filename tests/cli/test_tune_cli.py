"""`lrbench tune`, `lrbench db ...` and `lrbench demo` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from lrbench.cli.main import main
from lrbench.store import Store

LRBENCH = str(Path(sys.executable).parent / "lrbench")
TUNE = [
    "tune",
    "--task",
    "digits-mlp",
    "--policies",
    "fixed,cosine",
    "--lr-min",
    "0.01",
    "--lr-max",
    "1",
    "--trials",
    "4",
    "--total-steps",
    "20",
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LRBENCH, *args], capture_output=True, text=True, timeout=600)


def test_tune_json_is_one_object_with_the_contract_fields(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    result = run(*TUNE, "--db", db, "--study", "cli", "--format", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["study"] == "cli"
    assert set(summary["best"]) >= {"policy", "metrics"}
    assert summary["best"]["policy"].startswith(("fixed(", "cosine("))
    assert summary["trials"]["complete"] == 4
    assert summary["cost"]["steps"] == 80 and summary["cost"]["seconds"] > 0
    assert "trial 3" in result.stderr  # plain progress lines when stderr is not a terminal
    quiet = run(*TUNE, "--db", db, "--study", "cli", "--format", "json", "--quiet")
    assert quiet.stderr == "" and json.loads(quiet.stdout)["trials"]["complete"] == 4


def test_cost_and_compose_objectives_print_one_json_object(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    cost = run(*TUNE, "--db", db, "--objective", "cost", "--target", "0.5", "--format", "json")
    assert cost.returncode == 0, cost.stderr
    summary = json.loads(cost.stdout)
    assert summary["objective"] == "cost" and summary["target"]["value"] == 0.5
    assert summary["cost"]["full_runs"] <= summary["cost"]["grid_full_runs"] == 4
    compose = run(*TUNE, "--db", db, "--objective", "compose", "--keep", "1", "--format", "json")
    assert compose.returncode == 0, compose.stderr
    summary = json.loads(compose.stdout)
    assert summary["compose"]["sequence"]["policy"].startswith("sequence(")
    assert summary["compose"]["single"] is not None


def test_db_commands_list_show_rank_export_import_and_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert main([*TUNE, "--db", db, "--study", "one", "--quiet"]) == 0
    assert "Best:" in capsys.readouterr().out
    assert main(["db", "ls", "--db", db, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [s["study"] for s in listed] == ["one"] and listed[0]["finished"] == 4
    assert main(["db", "show", "one", "--db", db, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["lr_max"] == 1.0 and len(shown["leaderboard"]) == 4
    assert (
        main(["db", "top", "--task", "digits-mlp", "-k", "2", "--db", db, "--format", "json"]) == 0
    )
    top = json.loads(capsys.readouterr().out)
    assert {t["family"] for t in top} == {"fixed", "cosine"}
    export = tmp_path / "one.json"
    assert main(["db", "export", "one", "-o", str(export), "--db", db]) == 0
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert main(["db", "import", str(export), "--db", other]) == 0
    capsys.readouterr()
    assert main(["db", "show", "one", "--db", other, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["leaderboard"] == shown["leaderboard"]
    assert main(["db", "upgrade", "--db", db]) == 0
    assert "up to date" in capsys.readouterr().err
    for command in (
        ["db", "ls"],
        ["db", "show", "one"],
        ["db", "top", "--task", "digits-mlp"],
        ["db", "recipes"],
    ):
        assert main([*command, "--db", db]) == 0


def test_demo_quick_runs_both_tasks_and_leaves_the_database(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = run(
        "demo",
        "--quick",
        "--db",
        f"sqlite:///{db}",
        "-o",
        str(tmp_path / "out"),
        "--format",
        "json",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [s["task"] for s in report["studies"]] == ["digits-mlp", "charlm"]
    folklore = {"digits-mlp": {"0.1 step", "0.1 cosine"}, "charlm": {"0.0003 cosine"}}
    for study in report["studies"]:
        assert study["best"] is not None
        assert {b["baseline"] for b in study["baselines"]} == folklore[study["task"]]
        assert Path(study["figure"]).stat().st_size > 10_000
    assert db.exists() and (tmp_path / "out" / "summary.json").exists()
    index = Path(report["report"])
    assert index.name == "index.html" and "demo-charlm-quick" in index.read_text()
    store = Store(f"sqlite:///{db}")
    trials = sum(len(store.trials(s.id)) for s in store.studies())
    assert trials == 17  # digits-mlp: 10 + 2 baselines; charlm: 4 + 1
    assert len(list((index.parent / "trials").glob("*.html"))) == trials


def test_report_and_study_plots_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert main([*TUNE, "--db", db, "--study", "r", "--quiet"]) == 0
    assert main(["report", "r", "--db", db, "-o", str(tmp_path / "rep"), "--quiet"]) == 0
    assert (tmp_path / "rep" / "index.html").exists()
    assert (
        main(
            [
                "report",
                "--task",
                "digits-mlp",
                "--db",
                db,
                "-o",
                str(tmp_path / "by-task"),
                "--no-trial-pages",
            ]
        )
        == 0
    )
    assert not list((tmp_path / "by-task" / "trials").glob("*.html"))
    for kind in ("curves", "lr-sweep", "pareto", "heatmap"):
        out = tmp_path / f"{kind}.svg"
        assert main(["plot", "--study", "r", "--kind", kind, "--db", db, "-o", str(out)]) == 0
        assert "</svg>" in out.read_text()
    out = tmp_path / "trial.png"
    assert main(["plot", "--study", "r", "--trial", "2", "--db", db, "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["plot", "--study", "r", "--trial", "9", "--db", db, "-o", str(out)]) == 2
    assert "`--trial` must be a trial number of study r (0..3), got 9" in capsys.readouterr().err
    assert main(["plot", "--kind", "heatmap", "-o", str(out)]) == 2
    assert "`--kind heatmap` needs `--study NAME`" in capsys.readouterr().err


def _newer_schema(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    return url


def _study_with_other_config(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cfg.db'}"
    assert main([*TUNE, "--db", url, "--study", "s", "--quiet", "--format", "json"]) == 0
    return url


def _task_file(tmp_path: Path) -> str:
    path = tmp_path / "task.py"
    path.write_text(
        "def fit(trial):\n    return {}\n\ndef silent(trial):\n    return {'x': 1.0}\n"
    )
    return str(path)


BAD = [
    (lambda p: ["tune", "--task", "digits_mlp"], "unknown task 'digits_mlp'; did you mean"),
    (
        lambda p: ["tune", "--task", f"{_task_file(p)}:train", "--metric", "x"],
        "has no function 'train' (functions there: fit, silent)",
    ),
    (
        lambda p: [
            "tune",
            "--task",
            f"{_task_file(p)}:silent",
            "--metric",
            "acc",
            "--trials",
            "1",
            "--policies",
            "fixed",
            "--total-steps",
            "3",
            "--db",
            f"sqlite:///{p / 'u.db'}",
        ],
        "never reported metric 'acc' (it reported: x)",
    ),
    (
        lambda p: [*TUNE, "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none"],
        "cannot connect to the database",
    ),
    (lambda p: [*TUNE, "--db", "::not a url::"], "is not a database URL"),
    (lambda p: [*TUNE, "--db", _newer_schema(p)], "newer LRBench++"),
    (
        lambda p: [
            *TUNE[:-2],
            "--total-steps",
            "30",
            "--db",
            _study_with_other_config(p),
            "--study",
            "s",
        ],
        "exists with a different configuration (total_steps: 20 -> 30)",
    ),
    (
        lambda p: ["tune", "--task", "digits-mlp", "--metric", "acc"],
        "task digits-mlp never reports metric 'acc'",
    ),
    (
        lambda p: ["tune", "--task", "digits-mlp", "--lr-min", "1", "--lr-max", "0.1"],
        "`--lr-min` must be < `--lr-max`, got lr_min=1.0, lr_max=0.1",
    ),
    (
        lambda p: [*TUNE, "--objective", "cost", "--db", f"sqlite:///{p / 'e.db'}"],
        "`--target` is required with --objective cost",
    ),
    (
        lambda p: [*TUNE, "--objective", "compose", "--phases", "1"],
        "`--phases` must be >= 2 for --objective compose, got 1",
    ),
    (
        lambda p: [*TUNE, "--ray-address", "127.0.0.1:1", "--db", f"sqlite:///{p / 'e.db'}"],
        "cannot reach the Ray cluster at '127.0.0.1:1'",
    ),
    (lambda p: ["db", "show", "nope", "--db", f"sqlite:///{p / 'e.db'}"], "no database at"),
    (lambda p: [*TUNE, "--db", f"sqlite:///{p}"], "is a directory, not a database file"),
    (
        lambda p: [*TUNE, "--db", "postgresql+psycopg://u@h:99999/db"],
        "has port 99999, outside 1..65535",
    ),
    (
        lambda p: ["db", "import", str(p / "missing.json"), "--db", f"sqlite:///{p / 'e.db'}"],
        "no such file",
    ),
    (lambda p: [*TUNE, "--trials", "1000000000000"], "`--trials` must be 1 to 100,000"),
    (lambda p: [*TUNE, "--seeds", "2000000"], "`--seeds` must be 1 to 1,000, got 2000000"),
    (lambda p: [*TUNE, "--seed", "-1"], "`--seed` must be 0 to 2^32-1, got -1"),
    (lambda p: [*TUNE, "--total-steps", "10000000000"], "must be a whole number 1 to 1,000,000"),
    (lambda p: ["tune", "--task", ":"], "must be package.module:function or path/to/file.py"),
    (
        lambda p: [*TUNE, "--objective", "compose", "--phases", "1000", "--total-steps", "5"],
        "`--phases` must be at most --total-steps (5: each phase",
    ),
    (
        lambda p: [*TUNE, "--param", "hidden=-5"],
        "`--param hidden` of task digits-mlp must be a whole number >= 1, got -5",
    ),
    (
        lambda p: [*TUNE, "--param", f"weight_decay={10**400}"],
        "`--param weight_decay` of task digits-mlp must be a finite number >= 0",
    ),
    (
        lambda p: [*TUNE, "--param", "optimizer=nope"],
        "`--param optimizer` of task digits-mlp must be one of sgd, adam, adamw",
    ),
    (lambda p: ["schedule", "fixed(lr=0.1)", "--steps", "10000000000"], "10000000"),
    (
        lambda p: ["db", "import", str(p), "--db", f"sqlite:///{p / 'e.db'}"],
        "is a directory, not a study export file",
    ),
]


def test_an_output_path_the_system_refuses_is_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert main([*TUNE, "--trials", "1", "--study", "s", "--db", db, "--quiet"]) == 0
    (tmp_path / "a-file").touch()
    for args, message in [
        (["report", "s", "-o", str(tmp_path / "a-file")], "Not a directory"),
        (["report", "s", "-o", "/proc/lrbench/x"], "cannot use /proc/lrbench"),
        (["db", "export", "s", "-o", str(tmp_path)], f"cannot use {tmp_path}: Is a directory"),
    ]:
        capsys.readouterr()
        assert main([*args, "--db", db]) == 2, args
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines


@pytest.mark.parametrize("make_args, message", BAD)
def test_bad_input_is_one_line_and_exit_code_2(
    make_args, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = make_args(tmp_path)
    capsys.readouterr()
    assert main([*args, "--quiet"] if args[0] == "tune" else args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_a_study_file_runs_the_study_and_flags_override_it(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        "task: digits-mlp\npolicies: [fixed, cosine]\nlr_min: 1e-2\nlr_max: 1\n"
        "trials: 4\ntotal_steps: 20\nstudy: from-file\nparams: {hidden: 32}\n"
    )
    result = run("tune", "--config", str(study_file), "--trials", "2", "--db", db, "-f", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["study"] == "from-file" and summary["trials"]["complete"] == 2
    assert {row["family"] for row in summary["leaderboard"]} == {"fixed", "cosine"}
    from lrbench.store import Store

    stored = Store(db).require_study("from-file")
    assert stored.config["study_file"] == study_file.read_text()
    assert stored.config["config"]["params"]["hidden"] == 32
    assert stored.config["config"]["trials"] == 2  # the flag, over the file's 4

    study_file.write_text("task: digits-mlp\ntrails: 4\n")
    bad = run("tune", "--config", str(study_file), "--db", db)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "unknown key `trails`" in bad.stderr and "did you mean `trials`" in bad.stderr
    missing = run("tune", "--trials", "2", "--db", db)
    assert missing.returncode == 2 and "`--task` is required" in missing.stderr


def test_the_objective_options_default_as_the_objectives_do() -> None:
    import inspect

    from lrbench.cli.tune import tune_command
    from lrbench.study import CostEffective, HorizonTransfer, MultiPolicy, PredictedSchedules

    defaults = {n: p.default for n, p in inspect.signature(tune_command).parameters.items()}
    for objective in (CostEffective(), MultiPolicy(), PredictedSchedules(), HorizonTransfer()):
        for name, value in objective.options().items():
            if name in defaults and name != "horizons":  # horizons: text on the command line
                assert defaults[name] == value, (objective.name, name)
