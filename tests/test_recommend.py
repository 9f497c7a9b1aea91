"""Starting points from published recipes: the right recipes for how a task trains."""

from __future__ import annotations

from pathlib import Path

from lrbench.recommend import starting_points
from lrbench.store import Store, TaskInfo


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
