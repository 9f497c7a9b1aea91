"""The examples in examples/ run as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_torch_loop_example_trains_to_a_good_accuracy() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "torch_loop.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.rsplit("test accuracy: ", 1)[1])
    assert accuracy > 0.9


@pytest.mark.parametrize(
    ("metric", "mode", "good_enough"),
    [("val_accuracy", "max", 0.7), ("val_loss", "min", 0.6)],  # the README tunes val_loss
)
def test_the_documented_user_task_tunes_from_the_command_line(
    tmp_path, metric: str, mode: str, good_enough: float
) -> None:
    command = [
        str(Path(sys.executable).parent / "lrbench"),
        "tune",
        "--task",
        f"{EXAMPLES / 'my_task.py'}:train",
        "--metric",
        metric,
        "--mode",
        mode,
        "--policies",
        "fixed,cosine",
        "--lr-min",
        "1e-3",
        "--lr-max",
        "1",
        "--trials",
        "4",
        "--total-steps",
        "100",
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
        "--format",
        "json",
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["task"] == "my_task.py:train"
    assert summary["trials"]["complete"] + summary["trials"]["diverged"] == 4
    best = summary["best"]["metrics"][metric]
    assert best > good_enough if mode == "max" else best < good_enough


def test_the_trainer_example_tunes_pretrained_minilm_from_the_command_line(tmp_path) -> None:
    command = [
        str(Path(sys.executable).parent / "lrbench"),
        "tune",
        "--task",
        f"{EXAMPLES / 'hf_trainer.py'}:train",
        "--metric",
        "eval_loss",
        "--mode",
        "min",
        "--policies",
        "fixed,cosine",
        "--lr-min",
        "1e-4",
        "--lr-max",
        "1e-3",
        "--trials",
        "2",
        "--total-steps",
        "4",
        "--param",
        "sentences=160",
        "--param",
        f"output_dir={tmp_path / 'out'}",
        "--db",
        f"sqlite:///{tmp_path / 'hf.db'}",
        "--format",
        "json",
        "--quiet",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["trials"]["complete"] == 2
    assert summary["best"]["metrics"]["eval_loss"] < 1.45  # ln 4 = 1.386 before training


def test_the_papers_study_files_read_and_the_cpu_one_runs(tmp_path) -> None:
    from lrbench.study.studyfile import read_study_file

    full = read_study_file(EXAMPLES / "llama-alpaca" / "study.yaml")
    assert (full["epochs"], full["lr_min"], full["lr_max"]) == (3.0, 1e-5, 6e-5)
    assert full["params"]["batch_size"] * full["params"]["grad_accum"] == 128
    assert full["policies"] == ["fixed", "linear", "cosine"] and full["executor"] == "ray"
    cpu = read_study_file(EXAMPLES / "llama-alpaca" / "study-cpu.yaml")
    assert set(cpu) <= set(full) and cpu["policies"] == full["policies"]  # the same study
    command = [
        str(Path(sys.executable).parent / "lrbench"),
        "tune",
        "--config",
        str(EXAMPLES / "llama-alpaca" / "study-cpu.yaml"),
        "--policies",
        "cosine",
        "--trials",
        "1",
        "--param",
        "max_records=16",
        "--param",
        "benchmark_limit=4",
        "--db",
        f"sqlite:///{tmp_path / 'paper.db'}",
        "--format",
        "json",
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["study"] == "llama-alpaca-cpu" and summary["metric"] == "mmlu-local/acc"
    assert summary["trials"]["complete"] == 1
