"""Where to start: stored results, recipes for how a task trains, rules; `lrbench recommend`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import store_sweeps

from lrbench import ConfigError
from lrbench.recommend import recommend, starting_points
from lrbench.store import Store, TaskInfo, TrialStatus


def _recipe_lrs(tmp_path: Path, task: TaskInfo) -> list[tuple[str, float]]:
    store = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    return [(p.family, p.lr) for p in starting_points(store, task, k=3)]


def test_a_lora_fine_tuning_starts_from_lora_recipes(tmp_path: Path) -> None:
    lora = TaskInfo(name="hf-causal-lm", domain="llm-finetune", model="smollm2-lora")
    assert lora.method == "lora"
    assert _recipe_lrs(tmp_path, lora) == [("linear", 3e-4), ("fixed", 2e-4), ("linear", 2e-4)]


def test_a_full_fine_tuning_starts_from_full_fine_tuning_recipes(tmp_path: Path) -> None:
    full = TaskInfo(name="hf-causal-lm", domain="llm-finetune", model="smollm2")
    assert full.method == "full"
    assert _recipe_lrs(tmp_path, full) == [("cosine", 2e-5), ("fixed", 2e-5), ("fixed", 5e-6)]


def test_classification_starts_from_bert_other_domains_from_the_optimizer(tmp_path: Path) -> None:
    classify = TaskInfo(name="minilm-cls", domain="text-classification", optimizer="adamw")
    assert _recipe_lrs(tmp_path, classify) == [("linear", 3e-5)]
    unknown = TaskInfo(name="mine", domain="speech", optimizer="adamw")
    assert _recipe_lrs(tmp_path, unknown) == [("fixed", 1e-3)]


def _store_with_study(
    tmp_path: Path, task: TaskInfo, results: dict[float, float], *, lr_range: tuple[float, float]
) -> Store:
    """A store holding one finished grid study of `task`: accuracy by fixed LR."""
    store = Store(f"sqlite:///{tmp_path / 'known.db'}")
    rows = [
        {"policy": f"fixed(lr={lr})", "family": "fixed", "lr": lr, "seed": 0, "total_steps": 50}
        for lr in results
    ]
    study = store.create_study(
        name="known",
        task=store.task(task),
        objective="single-policy",
        metric="accuracy",
        mode="max",
        strategy="grid",
        config={"config": {"lr_min": lr_range[0], "lr_max": lr_range[1]}},
        trials=rows,
    )
    for trial in store.trials(study.id):
        store.start_trial(trial.id)
        store.finish_trial(
            trial.id,
            TrialStatus.complete,
            metrics={"accuracy": results[trial.lr]},
            cost_steps=50,
            cost_seconds=1.0,
        )
    return store


CLASSIFIER = TaskInfo(
    name="my-classifier",
    domain="text-classification",
    model="bert",
    optimizer="adamw",
    batch_size=16,
)


def test_the_tasks_own_best_result_decides_and_an_edge_widens_the_range(tmp_path: Path) -> None:
    store = _store_with_study(
        tmp_path, CLASSIFIER, {1e-5: 0.6, 3e-5: 0.7, 1e-4: 0.8}, lr_range=(1e-5, 1e-4)
    )
    advice = recommend(store, CLASSIFIER)
    assert (advice.basis, advice.family, advice.lr) == ("own task", "fixed", 1e-4)
    assert advice.evidence[0].edge == "top" and "may lie beyond" in advice.evidence[0].note
    assert advice.lr_min == pytest.approx(1e-4 / 3) and advice.lr_max == pytest.approx(1e-3)
    assert {e.kind for e in advice.evidence} == {"store", "recipe", "rule"}


def test_a_nearest_tasks_lr_moves_to_this_batch_size_by_the_square_root_rule(
    tmp_path: Path,
) -> None:
    store = _store_with_study(
        tmp_path, CLASSIFIER, {1e-5: 0.6, 3e-5: 0.8, 1e-4: 0.7}, lr_range=(1e-6, 1e-3)
    )
    bigger = TaskInfo(
        name="their-classifier",
        domain="text-classification",
        model="bert",
        optimizer="adamw",
        batch_size=64,
    )
    advice = recommend(store, bigger)
    assert advice.basis == "nearest task" and advice.evidence[0].edge == ""
    assert advice.lr == pytest.approx(3e-5 * 2)  # sqrt(64 / 16)
    assert "square-root rule for Adam, Malladi et al. 2022" in advice.evidence[0].note


def test_rules_decide_without_results_and_nothing_known_is_an_error(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    pretraining = TaskInfo(name="pretrain", domain="pretraining", optimizer="adamw")
    advice = recommend(store, pretraining, model_params=135e6, tokens=2e9)
    compute = 6 * 135e6 * 2e9
    assert advice.basis == "rules" and advice.lr == pytest.approx(0.3118 * compute**-0.125)
    assert "DeepSeek" in advice.evidence[0].source
    llama = TaskInfo(name="ft", domain="llm-finetune", model="llama-7b", optimizer="adamw")
    capped = recommend(store, llama)
    assert capped.basis == "recipes" and capped.lr_max <= 3e-4
    with pytest.raises(ConfigError, match="nothing is known for task 'mine'.*describe it"):
        recommend(store, TaskInfo(name="mine", optimizer="lion"))


def test_recommend_command_json_and_bad_counts(tmp_path: Path) -> None:
    lrbench = str(Path(sys.executable).parent / "lrbench")
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    found = subprocess.run(
        [lrbench, "recommend", "--model", "smollm2", "--lora", "--db", db, "-f", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert found.returncode == 0, found.stderr
    advice = json.loads(found.stdout)
    assert (advice["basis"], advice["lr"]) == ("recipes", 3e-4)
    assert advice["range"][0] < 3e-4 < advice["range"][1]
    assert advice["evidence"][0]["source"].startswith("recipe alpaca-lora-7b: Wang (tloen)")
    bad = subprocess.run(
        [lrbench, "recommend", "--domain", "pretraining", "--params", "lots", "--db", db],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and "`--params` must be a count like 135M" in bad.stderr


def test_sweeps_at_several_horizons_predict_the_lr_for_the_tasks_budget(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'horizons.db'}")
    grid = [1e-3 * 10 ** (i / 3) for i in range(7)]

    def loss(lr: float, horizon: int) -> float:
        return 3.0 + (math.log(lr) - math.log(0.2 * horizon**-0.25)) ** 2

    store_sweeps(store, "lm-like", {("cosine", h): grid for h in (100, 200, 400)}, loss)
    advice = recommend(store, TaskInfo(name="lm-like", optimizer="adamw", horizon=1600))
    assert advice.basis == "horizon law" and advice.family == "cosine"
    assert advice.lr == pytest.approx(0.2 * 1600**-0.25, rel=1e-6)
    assert advice.lr_min < advice.lr < advice.lr_max
    law = advice.evidence[0]
    assert law.kind == "horizon law" and "beta = 0.250" in law.note
    assert any(e.kind == "store" for e in advice.evidence[1:])  # the sweeps stay as evidence
