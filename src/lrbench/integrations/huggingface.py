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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lrbench.exceptions import ConfigError, MissingDependencyError
from lrbench.integrations.torch import LRBenchScheduler
from lrbench.monitor import Monitor
from lrbench.policies import Policy, parse

try:
    from transformers import TrainerCallback
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("transformers", "hf") from error

__all__ = ["LRBenchCallback", "create_scheduler"]


def create_scheduler(
    policy: Policy | str | Mapping[str, Any],
    optimizer: Any,
    *,
    lr_multipliers: Sequence[float] | None = None,
) -> LRBenchScheduler:
    """A torch scheduler applying `policy`, for `Trainer(optimizers=(optimizer, scheduler))`.

    The Trainer steps it after every optimizer update, saves it in checkpoints and restores it
    on `resume_from_checkpoint`; the LR after `k` updates is `policy(k)`.
    """
    return LRBenchScheduler(optimizer, policy, lr_multipliers=lr_multipliers)


class LRBenchCallback(TrainerCallback):
    """Drives or watches the LR inside a Hugging Face `Trainer`.

    Args:
        policy: The policy to apply. Leave it out when the Trainer runs an `LRBenchScheduler`
            (from `create_scheduler`): the callback then only watches.
        divergence_factor: See `Monitor`.
        stop_on_divergence: Set `control.should_training_stop` when the loss diverges.

    After training, `callback.monitor` holds the run's history, divergence status and metrics.
    """

    def __init__(
        self,
        policy: Policy | str | Mapping[str, Any] | None = None,
        *,
        divergence_factor: float | None = 4.0,
        stop_on_divergence: bool = True,
    ) -> None:
        self.policy = None if policy is None else parse(policy)
        self.divergence_factor = divergence_factor
        self.stop_on_divergence = stop_on_divergence
        self.monitor: Monitor | None = None
        self.scheduler: LRBenchScheduler | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Attach to the Trainer's optimizer, or watch its LRBench scheduler."""
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
        self.monitor.seek(state.global_step)

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
        """Record the logged training loss; stop training if it diverged.

        The Trainer hides NaN losses by default (`logging_nan_inf_filter`), so a non-finite
        `grad_norm` counts as a NaN loss.
        """
        if self.monitor is None or not logs or "loss" not in logs:
            return
        loss = float(logs["loss"])
        if not math.isfinite(float(logs.get("grad_norm", 0.0))):
            loss = math.nan
        self.monitor.observe(loss)  # the clock is still at the update that was logged
        if self.monitor.diverged and self.stop_on_divergence:
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
        numbers = {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if self.scheduler is not None:
            self.scheduler.report(**numbers)
        self.monitor.report(**numbers)
