"""Integrations that do not fail silently: TrainingArguments as the exact policy, the horizon
left to the Trainer, warnings on a horizon mismatch and on divergence, the same attribute names
in both callbacks, tensor LRs kept as tensors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lrbench

transformers = pytest.importorskip("transformers")
from lrbench.integrations.huggingface import (  # noqa: E402
    LRBenchCallback,
    create_scheduler,
    from_training_args,
)
from lrbench.integrations.torch import LRBenchScheduler  # noqa: E402

STEPS = 12


class RecordLR(transformers.TrainerCallback):  # type: ignore[misc]
    def __init__(self) -> None:
        self.used: list[float] = []

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.used.append(kwargs["optimizer"].param_groups[0]["lr"])


def run(tmp_path: Path, callbacks: list[Any], max_steps: int = STEPS) -> Any:
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=64, n_positions=16)
    generator = torch.Generator().manual_seed(0)
    data = [
        {"input_ids": ids, "labels": ids}
        for ids in (torch.randint(0, 64, (16,), generator=generator) for _ in range(64))
    ]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=max_steps,
        per_device_train_batch_size=4,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        save_strategy="no",
    )
    trainer = transformers.Trainer(
        model=transformers.GPT2LMHeadModel(config),
        args=args,
        train_dataset=data,
        callbacks=callbacks,
    )
    trainer.train()
    return trainer


@pytest.mark.parametrize(
    "options",
    [
        {"lr_scheduler_type": "linear", "warmup_steps": 0.1},
        {"lr_scheduler_type": "cosine", "warmup_steps": 7},
        {"lr_scheduler_type": "constant_with_warmup", "warmup_steps": 0.25},
        {
            "lr_scheduler_type": "cosine_with_min_lr",
            "warmup_steps": 3,
            "lr_scheduler_kwargs": {"min_lr_rate": 0.1},
        },
        {"lr_scheduler_type": "polynomial", "lr_scheduler_kwargs": {"power": 2.0}},
    ],
)
def test_training_arguments_give_the_trainers_own_schedule(options: dict) -> None:
    total = 50
    args = transformers.TrainingArguments("out", learning_rate=3e-4, report_to=[], **options)
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    theirs = transformers.get_scheduler(
        args.lr_scheduler_type,
        optimizer,
        num_warmup_steps=args.get_warmup_steps(total),
        num_training_steps=total,
        scheduler_specific_kwargs=args.lr_scheduler_kwargs,
    )
    expected = []
    for _ in range(total + 1):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        theirs.step()
    ours = from_training_args(args, total).values(np.arange(total + 1))
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-15)


def test_a_spec_may_leave_the_horizon_to_the_trainer(tmp_path: Path) -> None:
    recorder, callback = RecordLR(), LRBenchCallback("cosine(lr=0.01,warmup_steps=3)")
    run(tmp_path, [callback, recorder])
    expected = lrbench.parse(f"cosine(lr=0.01,warmup_steps=3,total_steps={STEPS})")
    np.testing.assert_array_equal(recorder.used, expected.values(np.arange(STEPS)))
    assert callback.policy == expected
    with pytest.raises(lrbench.ConfigError, match="unknown parameter `warmup`"):
        LRBenchCallback("cosine(lr=0.01,warmup=3)")  # other mistakes are still caught at once


def test_a_horizon_that_differs_from_max_steps_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lrbench"):
        run(tmp_path, [LRBenchCallback("cosine(lr=0.01,total_steps=30)")])
    assert (
        "total_steps is 30 but the Trainer runs 12 steps: the schedule is cut short" in caplog.text
    )


def test_divergence_is_logged_with_its_step_and_both_callbacks_name_monitors_alike(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    callback = LRBenchCallback("fixed(lr=1e6)")
    with caplog.at_level(logging.WARNING, logger="lrbench"):
        run(tmp_path, [callback], max_steps=40)
    assert callback.monitor is not None and callback.monitor.diverged
    assert "stopping training at step" in caplog.text
    assert callback.monitors == [callback.monitor]
    lightning = pytest.importorskip("lightning")
    assert lightning is not None
    from lrbench.integrations.lightning import LRBenchCallback as LightningCallback

    assert isinstance(LightningCallback.monitor, property)


def test_tensor_lrs_stay_the_same_tensors() -> None:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([parameter], lr=torch.tensor(0.5), foreach=False)
    tensor = optimizer.param_groups[0]["lr"]
    monitor = lrbench.Monitor("step(lr=0.1,gamma=0.5,step_size=1)", optimizer)
    assert optimizer.param_groups[0]["lr"] is tensor and float(tensor) == pytest.approx(0.1)
    monitor.step(loss=1.0)
    assert optimizer.param_groups[0]["lr"] is tensor and float(tensor) == pytest.approx(0.05)
    scheduler = create_scheduler("cosine(lr=0.2,warmup_steps=2)", optimizer, total_steps=10)
    assert isinstance(scheduler, LRBenchScheduler)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] is tensor
    assert float(tensor) == pytest.approx(lrbench.parse(scheduler.policy)(1))
