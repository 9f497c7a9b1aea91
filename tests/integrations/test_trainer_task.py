"""Tuning a user's own Hugging Face `Trainer`: `run_trainer` / `@trainer_task`, on a tiny GPT-2
built from a config, trained for real on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import lrbench
from lrbench._files import load_checkpoint, save_checkpoint
from lrbench.store import Store, TrialStatus
from lrbench.study import MultiPolicy, StudyConfig, tune

transformers = pytest.importorskip("transformers")
from lrbench.integrations.huggingface import run_trainer  # noqa: E402

SPEC = "cosine(lr=0.01,min_lr=0.001,total_steps=12,warmup_steps=3)"

TASK_FILE = '''
import torch
import transformers

from lrbench.integrations.huggingface import trainer_task


def rows(n, seed):
    generator = torch.Generator().manual_seed(seed)
    return [{"input_ids": ids, "labels": ids}
            for ids in (torch.randint(0, 64, (16,), generator=generator) for _ in range(n))]


@trainer_task
def train(trial):
    """The user's script: a model, arguments and data; no LR, no schedule, no budget."""
    torch.manual_seed(trial.seed)
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=64, n_positions=16)
    args = transformers.TrainingArguments(
        output_dir=trial.params.get("out", "out"), per_device_train_batch_size=4,
        report_to=[], use_cpu=True, disable_tqdm=True, save_strategy="no",
    )
    return transformers.Trainer(
        model=transformers.GPT2LMHeadModel(config), args=args,
        train_dataset=rows(64, 0), eval_dataset=rows(16, 1),
    )
'''


class RecordLR(transformers.TrainerCallback):  # type: ignore[misc]
    """Reads the LR each optimizer update actually used."""

    def __init__(self) -> None:
        self.used: list[float] = []

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.used.append(kwargs["optimizer"].param_groups[0]["lr"])


def rows(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    return [
        {"input_ids": ids, "labels": ids}
        for ids in (torch.randint(0, 64, (16,), generator=generator) for _ in range(n))
    ]


def user_trainer(tmp_path: Path, callbacks: list[Any], optimizer: Any = None) -> Any:
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=64, n_positions=16)
    model = transformers.GPT2LMHeadModel(config)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        learning_rate=0.5,  # what the user had: replaced by the trial's policy
        lr_scheduler_type="linear",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        save_strategy="no",
    )
    return transformers.Trainer(
        model=model,
        args=args,
        train_dataset=rows(64, 0),
        eval_dataset=rows(16, 1),
        callbacks=callbacks,
        optimizers=(optimizer(model) if optimizer else None, None),
    )


def test_the_trainer_trains_the_trial_policy_for_the_trial_budget(tmp_path: Path) -> None:
    recorder, reports = RecordLR(), []
    trial = lrbench.Trial(
        policy=SPEC, total_steps=12, reporter=lambda step, metrics: reports.append(step)
    )
    metrics = run_trainer(trial, user_trainer(tmp_path, [recorder]))
    np.testing.assert_array_equal(recorder.used, lrbench.parse(SPEC).values(np.arange(12)))
    assert reports == [2, 4, 6, 8, 10, 12]  # 12 // 5 steps apart, and the last step
    assert set(metrics) >= {"eval_loss", "train_loss"} and "eval_runtime" not in metrics
    assert trial.cost()["steps"] == 12


def test_the_users_own_optimizer_is_kept(tmp_path: Path) -> None:
    recorder = RecordLR()
    run = user_trainer(tmp_path, [recorder], lambda m: torch.optim.SGD(m.parameters(), lr=9.0))
    run_trainer(lrbench.Trial(policy=SPEC, total_steps=12), run)
    assert isinstance(run.optimizer.optimizer, torch.optim.SGD)
    np.testing.assert_array_equal(recorder.used, lrbench.parse(SPEC).values(np.arange(12)))


def test_a_pruned_trial_stops_training_cleanly(tmp_path: Path) -> None:
    run = user_trainer(tmp_path, [])
    trial = lrbench.Trial(
        policy=SPEC, total_steps=12, should_prune=lambda step, metrics: step >= 4
    )
    with pytest.raises(lrbench.TrialPruned):
        run_trainer(trial, run)
    assert run.state.global_step == 4
    assert trial.cost()["steps"] == 4


def test_divergence_ends_the_trial_as_diverged_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = user_trainer(tmp_path, [])
    with pytest.raises(lrbench.Diverged), caplog.at_level("WARNING"):
        run_trainer(lrbench.Trial(policy="fixed(lr=1e6)", total_steps=40), run)
    assert run.state.global_step < 40
    assert "stopping trial 0 at step" in caplog.text


def test_a_study_tunes_a_trainer_script_and_stores_every_evaluation(tmp_path: Path) -> None:
    path = tmp_path / "my_ft.py"
    path.write_text(TASK_FILE)
    db = f"sqlite:///{tmp_path / 'ft.db'}"
    config = StudyConfig(
        task=f"{path}:train",
        metric="eval_loss",
        mode="min",
        policies=("fixed", "cosine"),
        lr_min=1e-3,
        lr_max=1e-1,
        trials=4,
        total_steps=10,
        params={"out": str(tmp_path / "out")},
    )
    result = tune(config, db=db)
    assert result.counts["complete"] == 4
    store = Store(db)
    for trial in result.trials:
        assert trial.status is TrialStatus.complete and trial.cost_steps == 10
        assert [s for s, _, _ in store.points(trial.id, "eval_loss")] == [2, 4, 6, 8, 10]
    assert result.best.metric == "eval_loss"
    assert result.best.mean == min(t.metrics["eval_loss"] for t in result.trials)


class RecordLoss(RecordLR):
    """Reads the LR of each update and the training loss logged after it."""

    def __init__(self) -> None:
        super().__init__()
        self.losses: dict[int, float] = {}

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self.losses[state.global_step] = logs["loss"]


def test_a_run_resumed_from_its_checkpoint_goes_on_as_if_never_stopped(tmp_path: Path) -> None:
    every_2_steps = {"evaluations": 6}  # the same evaluations, the same RNG draws
    whole = RecordLoss()
    run = lrbench.Trial(policy=SPEC, total_steps=12, params=every_2_steps)
    run_trainer(run, user_trainer(tmp_path, [whole]))

    saved: dict[int, Path] = {}

    def keep(step: int, state: Any) -> None:
        saved[step] = tmp_path / f"step-{step}.pt"
        save_checkpoint(saved[step], state)  # to disk and back, as a study does

    first = RecordLoss()
    stopped = lrbench.Trial(
        policy=SPEC,
        total_steps=6,
        params={"evaluations": 3},
        checkpoint_steps=(6,),
        on_checkpoint=keep,
    )
    run_trainer(stopped, user_trainer(tmp_path, [first]))
    second = RecordLoss()
    resumed = lrbench.Trial(
        policy=SPEC,
        total_steps=12,
        params=every_2_steps,
        start_step=6,
        checkpoint=load_checkpoint(saved[6]),
    )
    run_trainer(resumed, user_trainer(tmp_path, [second]))

    assert first.used + second.used == whole.used
    assert second.losses == {step: whole.losses[step] for step in range(7, 13)}
    assert resumed.cost()["steps"] == 6
    assert not list(tmp_path.glob("lrbench-trial-*"))  # the trial folders are removed


def test_a_composed_study_forks_trainer_phases_from_their_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "my_ft.py"
    path.write_text(TASK_FILE)
    config = StudyConfig(
        task=f"{path}:train",
        metric="eval_loss",
        mode="min",
        policies=("fixed",),
        lr_min=1e-3,
        lr_max=1e-1,
        trials=2,
        total_steps=10,
        objective=MultiPolicy(phases=2, keep=1),
        params={"out": str(tmp_path / "out")},
    )
    result = tune(config, db=f"sqlite:///{tmp_path / 'ft.db'}")
    forked = [t for t in result.trials if t.policy.startswith("sequence(")]
    assert forked and all(t.status is TrialStatus.complete for t in result.trials)
    assert all(t.cost_steps == 5 for t in forked)  # phase 2 only: phase 1 came from the parent


def test_the_range_test_on_a_trainer_leaves_it_as_it_was(tmp_path: Path) -> None:
    from lrbench.rangetest import range_test_trainer, sweep_spec

    def losses_of(run: Any) -> dict[int, float]:
        recorder = RecordLoss()
        run.add_callback(recorder)
        run.args.logging_steps, run.args.max_steps = 1, 6
        run.train()
        return recorder.losses

    expected = losses_of(user_trainer(tmp_path, []))
    sgd = user_trainer(tmp_path, [], lambda m: torch.optim.SGD(m.parameters(), momentum=0.9))
    before = {k: v.clone() for k, v in sgd.model.state_dict().items()}
    args_before = sgd.args.to_dict()
    result = range_test_trainer(sgd, lr_min=1e-4, lr_max=10.0, steps=30)

    np.testing.assert_allclose(
        result.lrs[:5], lrbench.parse(sweep_spec(1e-4, 10.0, 30)).values(np.arange(5))
    )
    assert len(result.lrs) == (30 if result.diverged_at is None else result.diverged_at + 1)
    assert all(torch.equal(before[k], v) for k, v in sgd.model.state_dict().items())
    assert sgd.optimizer.state_dict()["state"] == {}  # no momentum left from the sweep
    assert sgd.args.to_dict() == args_before

    trainer = user_trainer(tmp_path, [])
    range_test_trainer(trainer, lr_min=1e-4, lr_max=10.0, steps=30)
    assert losses_of(trainer) == expected  # trains as if no sweep had run
