"""Lightning integration: a `Callback` that applies an LRBench policy to a `Trainer`'s optimizers.

    callback = LRBenchCallback("one_cycle(max_lr=0.01,total_steps=500)")
    trainer = lightning.Trainer(callbacks=[callback])

The callback sets every optimizer's LR before each batch from `trainer.global_step` (the number
of optimizer updates done), records the training loss and stops training on divergence, passes
validation metrics to adaptive policies, and saves its adaptive state in Lightning checkpoints.
Configure no other LR scheduler in `configure_optimizers`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lrbench.exceptions import MissingDependencyError, MissingParameter
from lrbench.monitor import Monitor
from lrbench.policies import Policy, parse

try:
    from lightning.pytorch import Callback
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("lightning", "lightning") from error

__all__ = ["LRBenchCallback"]

logger = logging.getLogger(__name__)


class LRBenchCallback(Callback):
    """Applies a policy to a Lightning `Trainer`'s optimizers and watches the run.

    Args:
        policy: The policy or spec. A spec may leave out `total_steps`: the trainer's number of
            optimizer updates (`estimated_stepping_batches`) fills it.
        divergence_factor: See `Monitor`.
        stop_on_divergence: Set `trainer.should_stop` when the loss diverges (with a warning
            naming the step and the reason).

    After `fit`, `callback.monitors` holds one `Monitor` per optimizer, with the history, and
    `callback.monitor` the first (as in the Hugging Face callback).
    """

    def __init__(
        self,
        policy: Policy | str | Mapping[str, Any],
        *,
        divergence_factor: float | None = 4.0,
        stop_on_divergence: bool = True,
    ) -> None:
        self._spec = policy
        try:
            self.policy: Policy | None = parse(policy)
        except MissingParameter as missing:
            if missing.parameter != "total_steps":
                raise
            parse(policy, total_steps=10**9)  # every other mistake is reported now
            self.policy = None
        self.divergence_factor = divergence_factor
        self.stop_on_divergence = stop_on_divergence
        self.monitors: list[Monitor] = []
        self._saved: dict[str, Any] | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Attach a Monitor to each optimizer and set the LR for the current step."""
        if self.policy is None:
            self.policy = parse(self._spec, total_steps=int(trainer.estimated_stepping_batches))
        self.monitors = [
            Monitor(self.policy, optimizer, divergence_factor=self.divergence_factor)
            for optimizer in trainer.optimizers
        ]
        for monitor in self.monitors:
            if self._saved is not None:
                monitor.load_state_dict(self._saved)
            monitor.seek(trainer.global_step)

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        """Set the LR for the coming update."""
        for monitor in self.monitors:
            monitor.seek(trainer.global_step)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Record the batch's loss; stop on divergence."""
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if loss is None or not self.monitors:
            return
        monitor = self.monitors[0]
        was_diverged = monitor.diverged
        monitor.observe(loss)
        if monitor.diverged and not was_diverged and self.stop_on_divergence:
            logger.warning(
                "stopping training at step %d: %s", trainer.global_step, monitor.divergence_reason
            )
            trainer.should_stop = True

    @property
    def monitor(self) -> Monitor | None:
        """The first optimizer's Monitor (None before training starts)."""
        return self.monitors[0] if self.monitors else None

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Count the epoch."""
        for monitor in self.monitors:
            monitor.end_epoch()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Pass the logged validation metrics to an adaptive policy."""
        metrics = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if getattr(v, "numel", lambda: 1)() == 1
        }
        for monitor in self.monitors:
            monitor.report(**metrics)

    def state_dict(self) -> dict[str, Any]:
        """The first Monitor's state (step, epoch, adaptive state), saved in checkpoints."""
        return self.monitors[0].state_dict() if self.monitors else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Keep the saved state until training starts and the Monitors exist."""
        self._saved = dict(state_dict) or None
