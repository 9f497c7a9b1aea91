"""Real `Trainer.train()` runs of a tiny GPT-2 built from a config, on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lrbench

transformers = pytest.importorskip("transformers")
from lrbench.integrations.huggingface import LRBenchCallback, create_scheduler  # noqa: E402

STEPS = 12
SPEC = "cosine(lr=0.01,min_lr=0.001,total_steps=12,warmup_steps=3)"


class RecordLR(transformers.TrainerCallback):  # type: ignore[misc]
    """Reads the LR each optimizer update actually used."""

    def __init__(self) -> None:
        self.used: list[float] = []

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.used.append(kwargs["optimizer"].param_groups[0]["lr"])


def tiny_model() -> Any:
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=64, n_positions=16)
    return transformers.GPT2LMHeadModel(config)


def dataset(n: int = 64) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(n):
        ids = torch.randint(0, 64, (16,), generator=generator)
        rows.append({"input_ids": ids, "labels": ids})
    return rows


def trainer(
    tmp_path: Path,
    callbacks: list[Any],
    optimizers: Any = (None, None),
    max_steps: int = STEPS,
    **kwargs: Any,
) -> Any:
    options = {"save_strategy": "no", **kwargs}
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=max_steps,
        per_device_train_batch_size=4,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        learning_rate=0.5,
        lr_scheduler_type="linear",
        **options,
    )
    return transformers.Trainer(
        model=optimizers[2] if len(optimizers) > 2 else tiny_model(),
        args=args,
        train_dataset=dataset(),
        callbacks=callbacks,
        optimizers=optimizers[:2],
    )


def test_scheduler_factory_sets_and_logs_the_policy_lr(tmp_path: Path) -> None:
    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.5)
    recorder, watcher = RecordLR(), LRBenchCallback()
    run = trainer(
        tmp_path, [recorder, watcher], (optimizer, create_scheduler(SPEC, optimizer), model)
    )
    run.train()
    expected = lrbench.parse(SPEC).values(np.arange(STEPS))
    np.testing.assert_array_equal(recorder.used, expected)
    logged = [row["learning_rate"] for row in run.state.log_history if "learning_rate" in row]
    np.testing.assert_allclose(logged, expected, rtol=1e-12)
    assert watcher.monitor is not None and watcher.monitor.last_loss is not None
    assert not watcher.monitor.diverged


def test_callback_alone_drives_the_trainers_own_optimizer(tmp_path: Path) -> None:
    recorder = RecordLR()
    run = trainer(tmp_path, [LRBenchCallback(SPEC), recorder])
    run.train()
    np.testing.assert_array_equal(recorder.used, lrbench.parse(SPEC).values(np.arange(STEPS)))


def test_resume_from_checkpoint_continues_the_schedule(tmp_path: Path) -> None:
    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.5)
    first = trainer(
        tmp_path,
        [],
        (optimizer, create_scheduler(SPEC, optimizer), model),
        max_steps=STEPS,
        save_strategy="steps",
        save_steps=6,
    )
    first.train()
    model = tiny_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.5)
    recorder = RecordLR()
    resumed = trainer(
        tmp_path,
        [recorder],
        (optimizer, create_scheduler(SPEC, optimizer), model),
        max_steps=STEPS,
    )
    resumed.train(resume_from_checkpoint=str(tmp_path / "checkpoint-6"))
    np.testing.assert_array_equal(recorder.used, lrbench.parse(SPEC).values(np.arange(6, STEPS)))


def test_divergence_stops_training(tmp_path: Path) -> None:
    callback = LRBenchCallback("fixed(lr=1e6)")
    run = trainer(tmp_path, [callback], max_steps=40)
    run.train()
    assert callback.monitor is not None and callback.monitor.diverged
    assert run.state.global_step < 40


def test_callback_without_policy_or_scheduler_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(lrbench.ConfigError, match="needs a policy"):
        trainer(tmp_path, [LRBenchCallback()]).train()
