"""The Monitor: the one object that owns the training clock and writes the optimizer's LRs.

Typical loop::

    monitor = lrbench.Monitor("cosine(lr=0.1,total_steps=1000)", optimizer)  # sets step-0 LR
    for batch in batches:
        loss = model(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        monitor.step(loss=loss.item())  # counts the update, sets the LR for the next one

The Monitor never patches the optimizer; it only assigns `param_group["lr"]`.
"""

from __future__ import annotations

import array
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from lrbench._numbers import is_number
from lrbench.exceptions import ConfigError, Diverged
from lrbench.policies import Controller, Policy, parse

__all__ = ["History", "Monitor", "PolicyRunner", "resolve_multipliers"]

#: Closed-form LRs are computed this many steps at a time, vectorised, then read per step.
_CHUNK = 1024


class _Optimizer(Protocol):
    param_groups: list[dict[str, Any]]


@dataclass(frozen=True)
class History:
    """A down-sampled record of a run: one row per bucket of `stride` consecutive steps.

    Attributes:
        step: First step of each bucket.
        lr: LR used at that step (of the first param group, before multipliers).
        loss: Mean loss over the bucket's steps that reported one (NaN if none did).
        stride: Steps per bucket now; doubles whenever the buffer fills.
    """

    step: np.ndarray
    lr: np.ndarray
    loss: np.ndarray
    stride: int


class _History:
    """Fixed-capacity buffer: when full, adjacent buckets merge and the stride doubles.

    Memory is `4 * capacity` floats whatever the run's length; every row covers the same number
    of steps, so the curve stays evenly sampled. Rows live in `array.array` (cheap to append to
    from Python) and are viewed as NumPy arrays only to compact or read them.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 2 or capacity % 2:
            raise ConfigError(f"`history_size` must be an even integer >= 2, got {capacity!r}")
        self.capacity = capacity
        self.step, self.lr, self.loss_sum, self.loss_count = (
            array.array("d", bytes(8 * capacity)) for _ in range(4)
        )
        self.rows = 0
        self.stride = 1
        self._bucket_end = 0

    def add(self, step: int, lr: float, loss: float | None) -> None:
        if step >= self._bucket_end:
            if self.rows == self.capacity:
                self._compact()
            row = self.rows
            self.rows += 1
            self.step[row] = step
            self.lr[row] = lr
            self.loss_sum[row] = 0.0
            self.loss_count[row] = 0.0
            self._bucket_end = step + self.stride
        if loss is not None:
            row = self.rows - 1
            self.loss_sum[row] += loss
            self.loss_count[row] += 1.0

    def _compact(self) -> None:
        half = self.capacity // 2
        for buffer, merge in (
            (self.step, False),
            (self.lr, False),
            (self.loss_sum, True),
            (self.loss_count, True),
        ):
            values = np.frombuffer(buffer, dtype=np.float64)
            merged = values[0::2] + values[1::2] if merge else values[0::2].copy()
            values[:half] = merged
        self.rows = half
        self.stride *= 2
        self._bucket_end = int(self.step[half - 1]) + self.stride

    def view(self) -> History:
        n = self.rows
        step, lr, total, count = (
            np.frombuffer(b, dtype=np.float64)[:n].copy()
            for b in (self.step, self.lr, self.loss_sum, self.loss_count)
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = np.where(count > 0, total / count, np.nan)
        return History(step, lr, loss, self.stride)


def resolve_multipliers(groups: int, lr_multipliers: Sequence[float] | None) -> list[float]:
    """One LR factor per param group (default 1 each), checked: numbers >= 0, one per group."""
    multipliers = [1.0] * groups if lr_multipliers is None else list(lr_multipliers)
    if len(multipliers) != groups or any(not is_number(m) or not m >= 0 for m in multipliers):
        raise ConfigError(
            f"`lr_multipliers` must be {groups} numbers >= 0 (one per param group), "
            f"got {lr_multipliers!r}"
        )
    return [float(m) for m in multipliers]


class PolicyRunner:
    """Reads a policy's LR step by step for one run, holding the adaptive state if any.

    Closed-form LRs are computed `_CHUNK` steps at a time with `values()` and then read from the
    chunk, so a step costs an array lookup. Adaptive policies go through their `Controller`.
    Shared by the Monitor and the framework adapters.
    """

    def __init__(self, policy: Policy | str | Mapping[str, Any]) -> None:
        self.policy = parse(policy)
        self.controller: Controller | None = (
            self.policy.controller() if self.policy.adaptive else None  # type: ignore[attr-defined]
        )
        self._chunk_start = -1
        self._chunk = np.empty(0)

    def lr(self, step: int) -> float:
        """The LR for the update after `step` updates (before any per-group multiplier)."""
        if self.controller is not None:
            return self.controller.lr(step)
        offset = step - self._chunk_start
        if self._chunk_start < 0 or not 0 <= offset < len(self._chunk):
            self._chunk_start = step
            self._chunk = self.policy.values(np.arange(step, step + _CHUNK))
            offset = 0
        return float(self._chunk[offset])

    def report(self, step: int, metrics: Mapping[str, float]) -> bool:
        """Pass metrics to an adaptive policy; True if that may have changed the LR."""
        if self.controller is None:
            return False
        self.controller.report(step, metrics)
        return True

    def state_dict(self) -> dict[str, Any]:
        """The policy spec and the adaptive state (None for closed-form policies)."""
        return {
            "policy": str(self.policy),
            "adaptive": None if self.controller is None else self.controller.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict()`; refuses a state saved for another policy."""
        if state.get("policy") != str(self.policy):
            raise ConfigError(
                f"the saved state is for policy {state.get('policy')!r}, but this run uses "
                f"{str(self.policy)!r}"
            )
        if self.controller is not None:
            self.controller.load_state_dict(state["adaptive"])


class _DivergenceCheck:
    """Flags NaN/inf losses, and a smoothed loss above both `factor` x its minimum and its start.

    Requiring both keeps a run whose loss has fallen close to zero from being flagged for noise
    that is large only relative to that tiny minimum.
    """

    def __init__(self, factor: float | None, smoothing: float) -> None:
        self.factor = factor
        self.smoothing = smoothing
        self.average = 0.0
        self.count = 0
        self.best = math.inf
        self.first = math.nan

    def state_dict(self) -> dict[str, float]:
        """The running statistics (the settings `factor` and `smoothing` are not state)."""
        return {
            "average": self.average,
            "count": self.count,
            "best": self.best,
            "first": self.first,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict()`; keys it does not hold keep their values."""
        self.average = float(state.get("average", self.average))
        self.count = int(state.get("count", self.count))
        self.best = float(state.get("best", self.best))
        self.first = float(state.get("first", self.first))

    def reason(self, loss: float) -> str | None:
        if not math.isfinite(loss):
            return f"loss is {loss}"
        if self.factor is None:
            return None
        self.count += 1
        self.average = self.smoothing * self.average + (1 - self.smoothing) * loss
        # Bias correction of the running average; negligible (and skipped) after 1000 steps.
        smoothed = (
            self.average
            if self.count > 1000
            else (self.average / (1 - self.smoothing**self.count))
        )
        if self.count == 1:
            self.first = smoothed
        if smoothed < self.best:
            self.best = smoothed
        elif smoothed > self.factor * self.best and smoothed > self.first:
            return (
                f"smoothed loss {smoothed:.4g} is over {self.factor:g}x its minimum "
                f"{self.best:.4g} and above its starting value {self.first:.4g}"
            )
        return None


def set_lr(group: dict[str, Any], lr: float) -> None:
    """Set a param group's LR; a tensor LR (capturable optimizers, CUDA graphs) is filled in
    place and stays the same tensor."""
    fill = getattr(group.get("lr"), "fill_", None)
    if callable(fill):
        fill(lr)
    else:
        group["lr"] = lr


class Monitor:
    """Applies a policy to an optimizer, step by step, and keeps the run's status.

    On construction the Monitor sets every param group's LR for step 0. After each
    `optimizer.step()`, call `monitor.step(loss=...)`: it counts the update, checks the loss for
    divergence, records it, and sets the LR for the next update. `report(**metrics)` feeds
    evaluation metrics to adaptive policies. `state_dict()` holds only the step, epoch and
    adaptive state, so a run resumed from it gets exactly the LRs of a run that never stopped.

    Args:
        policy: A `Policy` or a spec (`"cosine(lr=0.1,total_steps=1000)"`, or a dict).
        optimizer: Anything with `param_groups` (every `torch.optim.Optimizer`); `None` for a
            Monitor that only tracks the run while something else sets the LR.
        lr_multipliers: One factor per param group (e.g. a lower LR for a backbone);
            group i gets `policy(t) * lr_multipliers[i]`. Default: 1 for every group.
        divergence_factor: Flag divergence when the smoothed loss exceeds this multiple of its
            minimum and its starting value; `None` checks only for NaN/inf.
        on_divergence: `"flag"` sets `diverged` and goes on; `"raise"` raises `Diverged`.
        history_size: Rows of the down-sampled history (memory is fixed at 4 floats per row).

    Not thread-safe: one Monitor drives one optimizer.
    """

    def __init__(
        self,
        policy: Policy | str | Mapping[str, Any],
        optimizer: _Optimizer | None,
        *,
        lr_multipliers: Sequence[float] | None = None,
        divergence_factor: float | None = 4.0,
        divergence_smoothing: float = 0.9,
        on_divergence: str = "flag",
        history_size: int = 4096,
    ) -> None:
        self._runner = PolicyRunner(policy)
        self.policy = self._runner.policy
        if optimizer is not None and not hasattr(optimizer, "param_groups"):
            raise ConfigError(
                f"`optimizer` must have param_groups (a torch optimizer), got {optimizer!r}"
            )
        self.optimizer = optimizer
        groups = 1 if optimizer is None else len(optimizer.param_groups)
        if on_divergence not in ("flag", "raise"):
            raise ConfigError(f"`on_divergence` must be flag or raise, got {on_divergence!r}")
        if divergence_factor is not None and not divergence_factor > 1:
            raise ConfigError(
                f"`divergence_factor` must be > 1 or None, got {divergence_factor!r}"
            )
        self.lr_multipliers = resolve_multipliers(groups, lr_multipliers)
        self.on_divergence = on_divergence
        self._divergence = _DivergenceCheck(divergence_factor, divergence_smoothing)
        self._history = _History(history_size)
        self.step_count = 0
        self.epoch = 0
        self.last_loss: float | None = None
        self.metrics: dict[str, float] = {}
        self.diverged_at: int | None = None
        self.divergence_reason: str | None = None
        self.lr = math.nan
        self._apply()

    @property
    def diverged(self) -> bool:
        """True once a divergence has been detected."""
        return self.diverged_at is not None

    def seek(self, step: int) -> None:
        """Move the clock to `step` and set its LR (for trainers that own the step count)."""
        if step != self.step_count:
            self.step_count = step
            self._apply()

    def _apply(self) -> None:
        self.lr = self._runner.lr(self.step_count)
        if self.optimizer is not None:
            for group, multiplier in zip(self.optimizer.param_groups, self.lr_multipliers):
                set_lr(group, self.lr * multiplier)

    def observe(self, loss: float | Any) -> None:
        """Record the loss of the current step and check it for divergence, without advancing.

        Raises:
            Diverged: if the loss diverged and `on_divergence="raise"`.
        """
        value = float(loss.item() if hasattr(loss, "item") else loss)  # tensors, NumPy scalars
        self._history.add(self.step_count, self.lr, value)
        self.last_loss = value
        reason = self._divergence.reason(value)
        if reason is not None and self.diverged_at is None:
            self.diverged_at = self.step_count
            self.divergence_reason = reason
        if self.diverged_at is not None and self.on_divergence == "raise":
            raise Diverged(self.diverged_at, value, self.divergence_reason or "")

    def step(self, loss: float | Any | None = None) -> float:
        """Count one optimizer update and set the LR for the next one.

        Args:
            loss: This update's training loss (a float or a one-element tensor), or None.

        Returns:
            The LR (before multipliers) now set for the next update.

        Raises:
            Diverged: if the loss diverged and `on_divergence="raise"` (the step is counted and
                the next LR set first, so the Monitor stays consistent).
        """
        try:
            if loss is None:
                self._history.add(self.step_count, self.lr, None)
            else:
                self.observe(loss)
        finally:
            self.step_count += 1
            self._apply()
        return self.lr

    def report(self, **metrics: float) -> None:
        """Record evaluation metrics (e.g. `val_loss=0.41`); adaptive policies react to them.

        The LR for the next update is updated at once if the policy changes it.
        """
        values = {name: float(value) for name, value in metrics.items()}
        self.metrics.update(values)
        if self._runner.report(self.step_count, values):
            self._apply()

    def end_epoch(self) -> int:
        """Count a finished epoch; returns the number of epochs done."""
        self.epoch += 1
        return self.epoch

    @property
    def history(self) -> History:
        """The down-sampled record of steps, LRs and mean losses so far."""
        return self._history.view()

    def state_dict(self) -> dict[str, Any]:
        """The step, the epoch, the adaptive state and the divergence test's running
        statistics: all a resumed run needs."""
        return {
            "step": self.step_count,
            "epoch": self.epoch,
            "divergence": self._divergence.state_dict(),
            **self._runner.state_dict(),
        }

    def continue_from(self, state: Mapping[str, Any]) -> None:
        """Go on from another run's `state_dict()` under this Monitor's own policy (a forked
        training phase): the step, the epoch and the divergence statistics carry over."""
        self.epoch = int(state["epoch"])
        self._divergence.load_state_dict(state.get("divergence", {}))
        self.seek(int(state["step"]))

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from `state_dict()`; the optimizer's LRs are set for the saved step.

        Raises:
            ConfigError: the state was saved by a Monitor running a different policy.
        """
        self._runner.load_state_dict(state)
        self._divergence.load_state_dict(state.get("divergence", {}))
        self.step_count = int(state["step"])
        self.epoch = int(state["epoch"])
        self._apply()
