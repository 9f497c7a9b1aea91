"""Hugging Face `Trainer` integration: a scheduler factory and a `TrainerCallback`.

Two ways to put an LRBench policy into a `Trainer`:

* the scheduler (exact, and what the Trainer logs as `learning_rate`)::

      optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
      scheduler = create_scheduler("cosine(lr=2e-5,total_steps=1000,warmup_steps=30)", optimizer)
      trainer = Trainer(model, args, optimizers=(optimizer, scheduler),
                        callbacks=[LRBenchCallback()])

* the callback alone, with the Trainer's own optimizer: `LRBenchCallback(policy)` sets the LR
  before every update (the Trainer's logged `learning_rate` then still comes from its own
  scheduler; `callback.monitor.history` has the LRs really used).

Either way the callback watches the logged training loss for divergence (and stops training on
it), and passes evaluation metrics to adaptive policies (`plateau`, `switch_on_plateau`).

And a way to tune the LR of a `Trainer` you already have: wrap the function that builds it,

      @trainer_task
      def train(trial):                        # lrbench tune --task my_ft.py:train ...
          model = AutoModelForCausalLM.from_pretrained(...)
          return Trainer(model, TrainingArguments(...), train_dataset=..., eval_dataset=...)

and every trial trains that Trainer under the trial's policy (see `run_trainer`).
"""

from __future__ import annotations

import functools
import logging
import math
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lrbench._numbers import is_number
from lrbench.exceptions import (
    ConfigError,
    Diverged,
    MissingDependencyError,
    MissingParameter,
    TrialPruned,
)
from lrbench.integrations.torch import LRBenchScheduler
from lrbench.monitor import Monitor
from lrbench.policies import Policy, from_hf, parse
from lrbench.trial import Trial

try:
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("transformers", "hf") from error

__all__ = [
    "LRBenchCallback",
    "TrialCallback",
    "create_scheduler",
    "from_training_args",
    "run_trainer",
    "trainer_task",
]

logger = logging.getLogger(__name__)

#: The key of a Trainer checkpoint (its files, by relative name) in a trial's saved state.
TRAINER_CHECKPOINT = "trainer_checkpoint"


def create_scheduler(
    policy: Policy | str | Mapping[str, Any],
    optimizer: Any,
    *,
    total_steps: int | None = None,
    lr_multipliers: Sequence[float] | None = None,
) -> LRBenchScheduler:
    """A torch scheduler applying `policy`, for `Trainer(optimizers=(optimizer, scheduler))`.

    The Trainer steps it after every optimizer update, saves it in checkpoints and restores it
    on `resume_from_checkpoint`; the LR after `k` updates is `policy(k)`. `total_steps` (your
    `max_steps`) fills the horizon of a spec that leaves it out.
    """
    return LRBenchScheduler(
        optimizer, parse(policy, total_steps=total_steps), lr_multipliers=lr_multipliers
    )


def from_training_args(args: Any, num_training_steps: int) -> Policy:
    """The policy equal to the schedule the Trainer would build from its `TrainingArguments`
    (`lr_scheduler_type`, `learning_rate`, `warmup_steps` as steps or as a ratio below 1,
    `lr_scheduler_kwargs`) over `num_training_steps` updates.

    Example:
        >>> from transformers import TrainingArguments
        >>> args = TrainingArguments("out", learning_rate=2e-5, warmup_steps=0.03,
        ...                          lr_scheduler_type="cosine", report_to=[])
        >>> from_training_args(args, 1000)
        lrbench.parse('cosine(lr=2e-05,total_steps=1000,warmup_steps=30)')
    """
    kwargs = args.lr_scheduler_kwargs or {}
    if isinstance(kwargs, str):
        import json

        kwargs = json.loads(kwargs) if kwargs.strip() else {}
    return from_hf(
        str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)),
        lr=float(args.learning_rate),
        num_warmup_steps=int(args.get_warmup_steps(num_training_steps)),
        num_training_steps=num_training_steps,
        **kwargs,
    )


def _policy_or_horizon(policy: Policy | str | Mapping[str, Any] | None) -> Policy | None:
    """The policy, or None for a spec that leaves `total_steps` to the Trainer (checked now
    for every other mistake)."""
    if policy is None:
        return None
    try:
        return parse(policy)
    except MissingParameter as missing:
        if missing.parameter != "total_steps":
            raise
        parse(policy, total_steps=10**9)  # every other mistake is reported now
        return None


def _warn_if_horizon_differs(policy: Policy, max_steps: int) -> None:
    horizon = getattr(policy, "total_steps", None)
    if horizon is not None and max_steps > 0 and int(horizon) != int(max_steps):
        logger.warning(
            "the policy's total_steps is %d but the Trainer runs %d steps: the schedule %s",
            horizon,
            max_steps,
            "ends before training does" if horizon < max_steps else "is cut short",
        )


def _diverges_on(monitor: Monitor, logs: Mapping[str, Any], step: int, what: str) -> bool:
    """Record a log's training loss; True when it makes the run diverge, with a warning
    "stopping {what} at step N: reason". The Trainer hides NaN losses
    (`logging_nan_inf_filter`), so a non-finite `grad_norm` counts as a NaN loss."""
    if "loss" not in logs:
        return False
    loss = float(logs["loss"])
    if not math.isfinite(float(logs.get("grad_norm", 0.0))):
        loss = math.nan
    already = monitor.diverged
    monitor.observe(loss)  # the clock is still at the update that was logged
    if monitor.diverged and not already:
        logger.warning("stopping %s at step %d: %s", what, step, monitor.divergence_reason)
        return True
    return False


class LRBenchCallback(TrainerCallback):
    """Drives or watches the LR inside a Hugging Face `Trainer`.

    Args:
        policy: The policy to apply. Leave it out when the Trainer runs an `LRBenchScheduler`
            (from `create_scheduler`): the callback then only watches. A spec may leave out
            `total_steps`: the Trainer's `max_steps` fills it; a `total_steps` that differs
            from `max_steps` is logged as a warning.
        divergence_factor: See `Monitor`.
        stop_on_divergence: Set `control.should_training_stop` when the loss diverges (with a
            warning naming the step and the reason).

    After training, `callback.monitor` (also `callback.monitors[0]`, as in the Lightning
    callback) holds the run's history, divergence status and metrics.
    """

    def __init__(
        self,
        policy: Policy | str | Mapping[str, Any] | None = None,
        *,
        divergence_factor: float | None = 4.0,
        stop_on_divergence: bool = True,
    ) -> None:
        self._spec = policy
        self.policy = _policy_or_horizon(policy)
        self.divergence_factor = divergence_factor
        self.stop_on_divergence = stop_on_divergence
        self.monitor: Monitor | None = None
        self.scheduler: LRBenchScheduler | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Attach to the Trainer's optimizer, or watch its LRBench scheduler."""
        if self.policy is None and self._spec is not None:
            self.policy = parse(self._spec, total_steps=state.max_steps)
        scheduler = kwargs.get("lr_scheduler")
        if isinstance(scheduler, LRBenchScheduler):
            if self.policy is not None and self.policy != scheduler.policy:
                raise ConfigError(
                    "LRBenchCallback's policy differs from the Trainer's LRBenchScheduler's; "
                    "give the policy to only one of them"
                )
            self.scheduler = scheduler
            self.monitor = Monitor(
                scheduler.policy, None, divergence_factor=self.divergence_factor
            )
        elif self.policy is None:
            raise ConfigError(
                "LRBenchCallback needs a policy, or a Trainer built with "
                "optimizers=(optimizer, lrbench.integrations.huggingface.create_scheduler(...))"
            )
        else:
            self.monitor = Monitor(
                self.policy, kwargs["optimizer"], divergence_factor=self.divergence_factor
            )
        _warn_if_horizon_differs(self.monitor.policy, state.max_steps)
        self.monitor.seek(state.global_step)

    @property
    def monitors(self) -> list[Monitor]:
        """The run's Monitor in a list (the Lightning callback has one per optimizer)."""
        return [] if self.monitor is None else [self.monitor]

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Set the LR for the coming update from the Trainer's own step count."""
        if self.monitor is not None:
            self.monitor.seek(state.global_step)

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Record the logged training loss; stop training if it diverged."""
        if self.monitor is None or not logs:
            return
        diverged = _diverges_on(self.monitor, logs, state.global_step, "training")
        if diverged and self.stop_on_divergence:
            control.should_training_stop = True

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Pass evaluation metrics to the adaptive policy (through the scheduler if any)."""
        if self.monitor is None or not metrics:
            return
        numbers = {k: float(v) for k, v in metrics.items() if is_number(v)}
        if self.scheduler is not None:
            self.scheduler.report(**numbers)
        self.monitor.report(**numbers)


#: Logged values that describe the run's speed, not its quality: not reported to the study.
_NOT_METRICS = ("_runtime", "_per_second", "epoch")


def _numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {
        name: float(value)
        for name, value in metrics.items()
        if is_number(value) and not name.endswith(_NOT_METRICS)
    }


class TrialCallback(TrainerCallback):
    """Connects a `Trainer` run to a study trial (installed by `run_trainer`).

    It counts the updates (the trial's cost), reports every evaluation to the study with
    `trial.report` (a pruned trial stops training cleanly at the end of the step, and
    `run_trainer` raises `TrialPruned` afterwards), passes evaluations to an adaptive policy,
    and stops training when the logged loss diverges, with a warning naming the step.
    """

    def __init__(self, trial: Trial) -> None:
        self.trial = trial
        self.monitor: Monitor | None = None
        self.pruned: TrialPruned | None = None
        self.last_evaluation: dict[str, float] = {}
        self.evaluated_at = -1

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Track the run from the Trainer's step (the LR is the scheduler's to set)."""
        self.monitor = self.trial.monitor(None, on_divergence="flag")
        self.monitor.seek(state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Count the update just done; have the Trainer save where the study wants a checkpoint."""
        if self.monitor is not None:
            self.monitor.seek(state.global_step)
        if self.trial.wants_checkpoint(state.global_step):
            control.should_save = True

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Hand the Trainer's checkpoint (the adapter alone under LoRA, the optimizer, the RNG
        and data position) to the study, and remove it from the trial's output directory."""
        if not self.trial.wants_checkpoint(state.global_step):
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        files = {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }
        self.trial.save_checkpoint(state.global_step, {TRAINER_CHECKPOINT: files})
        shutil.rmtree(folder, ignore_errors=True)

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Check the logged training loss; stop training if it diverged."""
        if self.monitor is None or not logs:
            return
        # The logged loss is the last update's (number global_step - 1, at that step's LR).
        self.monitor.seek(state.global_step - 1)
        diverged = _diverges_on(
            self.monitor, logs, state.global_step, f"trial {self.trial.number}"
        )
        self.monitor.seek(state.global_step)
        if diverged:
            control.should_training_stop = True

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Report the evaluation to the study; a pruned trial stops training."""
        numbers = _numbers(metrics or {})
        if not numbers or self.pruned is not None:
            return
        self.last_evaluation, self.evaluated_at = numbers, state.global_step
        scheduler = kwargs.get("lr_scheduler")
        if isinstance(scheduler, LRBenchScheduler):
            scheduler.report(**numbers)
        try:
            self.trial.report(state.global_step, **numbers)
        except TrialPruned as pruned:
            self.pruned = pruned
            control.should_training_stop = True


class _TrialScheduler(LRBenchScheduler):
    """The trial's scheduler: resumed from a parent trial's checkpoint, it goes on under the
    trial's own policy from the saved step (the parent may have run another policy)."""

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from the checkpoint's step (`continue_from`)."""
        self.continue_from(state_dict)


def _install_policy(trainer: Any, policy: Policy) -> None:
    """Make the Trainer build the trial's scheduler for `policy` over its final optimizer.

    `Trainer.create_scheduler` is the Trainer's documented override point and runs once the
    optimizer will not change (after `accelerate` wrapped it, after `model_init`, under FSDP),
    so the user's own optimizer, or `optimizer_cls_and_kwargs`, is kept as it is.
    """

    def create_scheduler(num_training_steps: int, optimizer: Any = None) -> LRBenchScheduler:
        trainer.lr_scheduler = _TrialScheduler(optimizer or trainer.optimizer, policy)
        return trainer.lr_scheduler

    trainer.lr_scheduler = None
    trainer.create_scheduler = create_scheduler


def _set_budget(trainer: Any, trial: Trial, output_dir: str) -> None:
    """The trial's budget, seed, evaluation, logging and saving, in the Trainer's arguments."""
    args = trainer.args
    args.max_steps = trial.total_steps
    args.seed = args.data_seed = trial.seed
    # Divergence is read off the logged loss: log at least 20 times over the run.
    args.logging_steps = max(1, min(int(args.logging_steps), trial.total_steps // 20))
    if trial.sweep:  # a range test reads every update's loss, and evaluates nothing
        args.logging_steps = 1
        args.eval_strategy = type(args.eval_strategy)("no")
    elif trainer.eval_dataset is not None and str(args.eval_strategy.value) == "no":
        evaluations = int(trial.params.get("evaluations", 5))
        args.eval_strategy = type(args.eval_strategy)("steps")
        args.eval_steps = max(1, trial.total_steps // evaluations)
    # The study saves what it needs (`trial.wants_checkpoint`), whole, in the trial's own folder.
    args.save_strategy = type(args.save_strategy)("no")
    args.save_only_model = False
    args.output_dir = output_dir


def _resume_folder(trial: Trial, folder: Path) -> str | None:
    """Write the parent's Trainer checkpoint into `folder` for `resume_from_checkpoint`; None
    for a fresh run."""
    if trial.resume_state is None:
        return None
    files = (
        trial.resume_state.get(TRAINER_CHECKPOINT)
        if isinstance(trial.resume_state, Mapping)
        else None
    )
    if files is None:
        raise ConfigError(
            f"trial {trial.number} resumes from a checkpoint that `run_trainer` did not save"
        )
    checkpoint = folder / f"checkpoint-{trial.start_step}"
    for name, data in files.items():
        (checkpoint / name).parent.mkdir(parents=True, exist_ok=True)
        (checkpoint / name).write_bytes(data)
    return str(checkpoint)


def run_trainer(trial: Trial, trainer: Any) -> dict[str, float]:
    """Train `trainer` as the trial: its budget, its policy, its reports; the final metrics.

    LRBench++ sets, in the Trainer's arguments: `max_steps` (the trial's budget in updates),
    `seed` and `data_seed` (the trial's seed), the logging cadence (at least 20 logs, for
    divergence), and evaluation every `total_steps / evaluations` steps (`evaluations` from the
    task's params, default 5) when the Trainer has an `eval_dataset` but no evaluation. The
    Trainer's optimizer is kept; its scheduler is the trial's policy (`LRBenchScheduler`); its
    console printing and progress bar are removed (a study shows its own progress, and
    `--format json` keeps stdout to itself).

    Checkpoints are the study's: the Trainer saves only where `trial.wants_checkpoint` (a
    composed study's phase ends), into a folder of the trial's own under `output_dir`, and the
    whole checkpoint (the adapter alone for a PEFT model, optimizer, RNG, data position) goes
    to `trial.save_checkpoint`. A trial forked from one (`trial.resume_state`) resumes the
    Trainer from it: the same batches, the same optimizer state, the policy's LR at its step.

    Returns the last evaluation's metrics (`eval_loss`, ...) and `train_loss`.

    Raises:
        TrialPruned: the study stopped the trial at an evaluation (training stopped cleanly).
        Diverged: the training loss diverged (training stopped at the next step).
    """
    output_dir = trainer.args.output_dir
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"lrbench-trial-{trial.number}-", dir=output_dir))
    try:
        _set_budget(trainer, trial, str(folder))
        _install_policy(trainer, trial.policy)
        for console in (PrinterCallback, ProgressCallback):  # progress is the study's to show
            trainer.remove_callback(console)
        callback = TrialCallback(trial)
        trainer.add_callback(callback)
        output = trainer.train(resume_from_checkpoint=_resume_folder(trial, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        trainer.args.output_dir = output_dir  # `trainer.save_model()` saves where it did
    monitor = callback.monitor
    if monitor is not None and monitor.diverged:
        raise Diverged(
            monitor.diverged_at or trainer.state.global_step,
            math.nan if monitor.last_loss is None else monitor.last_loss,
            monitor.divergence_reason or "the loss diverged",
        )
    if callback.pruned is not None:
        raise callback.pruned
    metrics = dict(callback.last_evaluation)
    evaluates = trainer.eval_dataset is not None and not trial.sweep
    if evaluates and callback.evaluated_at != trainer.state.global_step:
        trainer.evaluate()  # reports through the callback
        metrics = dict(callback.last_evaluation)
    return {**metrics, "train_loss": float(output.training_loss)}


def trainer_task(build: Callable[[Trial], Any]) -> Callable[[Trial], dict[str, float]]:
    """A task from a function that builds your `Trainer` for a trial (a decorator).

    `build(trial)` returns a `Trainer` ready to train (model, arguments, datasets, your own
    optimizer if you have one); use `trial.seed` where your script seeds, and `trial.params`
    for your own settings. The task trains it through `run_trainer`.
    """

    @functools.wraps(build)
    def train(trial: Trial) -> dict[str, float]:
        return run_trainer(trial, build(trial))

    return train
