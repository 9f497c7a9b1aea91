"""Task references, and the built-in tasks' contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrbench import ConfigError, Trial
from lrbench.tasks import builtin_tasks, load_task


def test_references_resolve_names_modules_and_files(tmp_path: Path) -> None:
    assert load_task("digits-mlp").params["optimizer"] == "sgd"
    assert load_task("digits-mlp", {"optimizer": "adam"}).params["optimizer"] == "adam"
    assert load_task("json:dumps").name == "json:dumps"
    path = tmp_path / "tasks.py"
    path.write_text("def train(trial):\n    return {'x': 1.0}\n")
    spec = load_task(f"{path}:train")
    assert spec.name == "tasks.py:train" and spec.ref == f"{path.resolve()}:train"
    assert spec.function(None) == {"x": 1.0}


@pytest.mark.parametrize(
    "ref, message",
    [
        ("digits_mlp", "unknown task 'digits_mlp'; did you mean digits-mlp"),
        ("no_such_module_xyz:train", "cannot import module 'no_such_module_xyz'"),
        ("missing.py:train", "task file not found"),
    ],
)
def test_bad_references(ref: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_task(ref)


def test_a_file_without_the_function_lists_what_it_has(tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    path.write_text("def fit(trial):\n    return {}\n\ndef evaluate(trial):\n    return {}\n")
    with pytest.raises(
        ConfigError,
        match=r"has no function 'train' \(functions there: "
        r"evaluate, fit\)",
    ):
        load_task(f"{path}:train")


@pytest.mark.parametrize("name", sorted(builtin_tasks()))
def test_builtin_tasks_report_their_declared_metrics(name: str, tiny_llama: Path) -> None:
    spec = load_task(name)
    steps = 12
    # SmolLM2 itself trains in tests/tasks/test_causal_lm.py; here the contract is enough.
    small = {"model": str(tiny_llama), "max_length": 64} if name == "hf-causal-lm" else {}
    trial = Trial(policy="fixed(lr=0.01)", total_steps=steps, params={**spec.params, **small})
    metrics = spec.function(trial)
    assert set(spec.metrics) <= set(metrics)
    assert spec.metrics[0] in trial.history
    assert trial.cost()["steps"] == steps and trial.cost()["samples"] > 0
    assert spec.info(steps).horizon == steps


def test_charlm_is_fine_tuning_a_pretrained_model() -> None:
    spec = load_task("charlm")
    tuned = Trial(policy="cosine(lr=0.003,total_steps=30)", total_steps=30, params=spec.params)
    frozen = Trial(policy="fixed(lr=1e-9)", total_steps=30, params=spec.params)
    start = spec.function(frozen)["val_loss"]
    assert start < 5.0  # far below a random byte model's ln(256) = 5.55: it was pretrained
    assert spec.function(tuned)["val_loss"] < start
    assert tuned.tokens_per_step == 16 * 64


@pytest.mark.parametrize(
    ("optimizer", "policy"),
    [
        ("prodigy", "cosine(lr=1,total_steps=80)"),
        ("dadaptation", "cosine(lr=1,total_steps=80)"),
        ("schedule_free", "warmup(policy=fixed(lr=0.0025),warmup_steps=4)"),
    ],
)
def test_the_lr_free_optimizers_train_a_from_scratch_task(optimizer: str, policy: str) -> None:
    pytest.importorskip({"prodigy": "prodigyopt", "dadaptation": "dadaptation"}.get(
        optimizer, "schedulefree"
    ))  # fmt: skip
    # Schedule-Free refuses a step outside its train mode: evaluating three times mid-run
    # shows the loop switches it back after each evaluation.
    spec = load_task("digits-mlp", {"optimizer": optimizer, "evaluations": 3})
    trial = Trial(policy=policy, total_steps=80, params=spec.params)
    assert spec.function(trial)["accuracy"] > 0.6  # chance: 0.1
    assert len(trial.history["accuracy"]) >= 3


def test_an_unknown_optimizer_of_a_from_scratch_task_names_the_valid_ones() -> None:
    with pytest.raises(
        ConfigError,
        match="`--param optimizer` of task digits-mlp must be one of sgd, adam, adamw, prodigy, "
        "dadaptation, schedule_free, got 'lion'",
    ):
        load_task("digits-mlp", {"optimizer": "lion"})
