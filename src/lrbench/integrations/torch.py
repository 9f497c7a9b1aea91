"""A `torch.optim.lr_scheduler.LRScheduler` driven by an LRBench policy.

For code (and frameworks) that expect a torch scheduler: build it once, call
`scheduler.step()` after each `optimizer.step()`, as with any torch scheduler. The LR after `k`
calls is `policy(k)`, computed in closed form, so `state_dict()` / `load_state_dict()` resume
exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrbench.monitor import PolicyRunner, resolve_multipliers, set_lr
from lrbench.policies import Policy

__all__ = ["LRBenchScheduler"]


class LRBenchScheduler(LRScheduler):
    """A torch LR scheduler that applies an LRBench policy.

    Args:
        optimizer: The optimizer whose param groups get the LR.
        policy: A `Policy` or spec, e.g. `"cosine(lr=3e-4,total_steps=10000,warmup_steps=500)"`.
        lr_multipliers: One factor per param group; default 1 for each. The policy gives the
            absolute LR: the optimizer's own `lr` is ignored.
        last_epoch: As in torch: -1 for a new run.

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> sched = LRBenchScheduler(opt, "step(lr=0.1,gamma=0.5,step_size=2)")
        >>> used = []
        >>> for _ in range(4):
        ...     used.append(opt.param_groups[0]["lr"])
        ...     opt.step()
        ...     sched.step()
        >>> used
        [0.1, 0.1, 0.05, 0.05]

    Adaptive policies (`plateau`, `switch_on_plateau`) take metrics through `report(...)`.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        policy: Policy | str | Mapping[str, Any],
        *,
        lr_multipliers: Sequence[float] | None = None,
        last_epoch: int = -1,
    ) -> None:
        self.runner = PolicyRunner(policy)
        self.lr_multipliers = resolve_multipliers(len(optimizer.param_groups), lr_multipliers)
        super().__init__(optimizer, last_epoch)

    @property
    def policy(self) -> Policy:
        """The policy this scheduler applies."""
        return self.runner.policy

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The LR of each param group for update number `last_epoch`."""
        lr = self.runner.lr(max(self.last_epoch, 0))
        return [lr * multiplier for multiplier in self.lr_multipliers]

    def report(self, **metrics: float) -> None:
        """Feed metrics to an adaptive policy; the new LR applies from the next update on."""
        if self.runner.report(self.last_epoch, {k: float(v) for k, v in metrics.items()}):
            self._apply()

    def continue_from(self, state_dict: Mapping[str, Any]) -> None:
        """Go on from another run's `state_dict()` under this scheduler's own policy (a
        forked training phase): the LR is this policy's at the saved step."""
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict["_step_count"])
        self._apply()

    def _apply(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            set_lr(group, lr)
        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """The step, the policy spec and the adaptive state: plain data, JSON-ready."""
        return {
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "_last_lr": list(self._last_lr),
            "base_lrs": list(self.base_lrs),
            "lr_multipliers": list(self.lr_multipliers),
            **self.runner.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from `state_dict()`; refuses a state saved for another policy."""
        self.runner.load_state_dict(state_dict)
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict["_step_count"])
        self._last_lr = list(state_dict["_last_lr"])
        self.base_lrs = list(state_dict["base_lrs"])
        self.lr_multipliers = list(state_dict["lr_multipliers"])
