"""Adaptive policies: the only stateful ones. They react to reported metrics.

An adaptive policy is still an immutable value; its state lives in a `Controller` made by
`policy.controller()`, which the Monitor owns and saves in its `state_dict()`. Called as a plain
function of the step (`policy(t)`, `policy.values(...)`), an adaptive policy gives the schedule it
follows when no metric ever stalls.
"""

from __future__ import annotations

import abc
import dataclasses
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from lrbench.exceptions import ConfigError
from lrbench.policies._base import Policy, param
from lrbench.policies._registry import register

__all__ = ["Controller", "Plateau", "PlateauTracker", "SwitchOnPlateau"]

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


@dataclasses.dataclass
class PlateauTracker:
    """Detects a stalled metric with `torch.optim.lr_scheduler.ReduceLROnPlateau`'s rules.

    A value improves on the best if it is below `best * (1 - threshold)` (mode min, rel), below
    `best - threshold` (min, abs), or the mirror images for mode max. After more than `patience`
    reports without improvement (cooldown reports excluded), `update` returns True once and the
    count restarts, with `cooldown` reports during which bad reports are not counted.
    """

    mode: str
    threshold: float
    threshold_mode: str
    patience: int
    cooldown: int
    best: float = math.nan
    bad_reports: int = 0
    cooldown_left: int = 0

    def __post_init__(self) -> None:
        if math.isnan(self.best):
            self.best = math.inf if self.mode == "min" else -math.inf

    def _improves(self, value: float) -> bool:
        if self.mode == "min":
            bound = (
                self.best * (1 - self.threshold)
                if self.threshold_mode == "rel"
                else (self.best - self.threshold)
            )
            return value < bound
        bound = (
            self.best * (1 + self.threshold)
            if self.threshold_mode == "rel"
            else (self.best + self.threshold)
        )
        return value > bound

    def update(self, value: float) -> bool:
        """Record one value; True when the metric has stalled and an action is due."""
        if self._improves(value):
            self.best = value
            self.bad_reports = 0
        else:
            self.bad_reports += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_reports = 0
        if self.bad_reports > self.patience:
            self.cooldown_left = self.cooldown
            self.bad_reports = 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        """The mutable part: best value, bad-report count, cooldown left."""
        return {
            "best": self.best,
            "bad_reports": self.bad_reports,
            "cooldown_left": self.cooldown_left,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        self.best = float(state["best"])
        self.bad_reports = int(state["bad_reports"])
        self.cooldown_left = int(state["cooldown_left"])


class Controller(abc.ABC):
    """The mutable state of an adaptive policy during one run.

    The Monitor calls `lr(step)` before each update and `report(step, metrics)` whenever the
    training loop reports metrics. Not thread-safe: one controller serves one run.
    """

    @abc.abstractmethod
    def lr(self, step: int) -> float:
        """The LR for the update after `step` updates, given what has been reported."""

    @abc.abstractmethod
    def report(self, step: int, metrics: Mapping[str, float]) -> None:
        """Take the metrics reported after `step` updates."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this run stopped."""

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict` returned."""


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class AdaptivePolicy(Policy):
    """Base of the adaptive policies: plateau detection options shared by all of them."""

    adaptive = True
    shared_options = ("metric", "mode", "patience", "threshold", "threshold_mode", "cooldown")

    metric: str = param("name", "the reported metric to watch", "loss")
    mode: str = param(
        "choice", "min: lower is better; max: higher is better", "min", choices=MODES
    )
    patience: int = param("steps", "reports without improvement tolerated", 10)
    threshold: float = param("rate", "minimum change that counts as improvement", 1e-4)
    threshold_mode: str = param(
        "choice", "rel: relative to the best; abs: absolute", "rel", choices=THRESHOLD_MODES
    )
    cooldown: int = param("steps", "reports to wait after an action before counting again", 0)

    def tracker(self) -> PlateauTracker:
        """A fresh plateau detector with this policy's options."""
        return PlateauTracker(
            self.mode, self.threshold, self.threshold_mode, self.patience, self.cooldown
        )

    def controller(self) -> Controller:
        """A fresh controller holding this policy's state for one run."""
        raise NotImplementedError


class _WatchingController(Controller):
    """A controller that watches one reported metric, and says so once when a report lacks it
    but holds a variant of it (a `plateau` left watching `loss` while the loop reports only
    `val_loss` would never act). Reports of other metrics alone are normal (a trainer logs its
    training loss between evaluations) and pass in silence."""

    policy: AdaptivePolicy
    _told_missing = False

    def _watched(self, metrics: Mapping[str, float]) -> float | None:
        name = self.policy.metric
        if name in metrics:
            return float(metrics[name])
        variant = any(k.endswith((f"_{name}", f"/{name}", f".{name}")) for k in metrics)
        if variant and not self._told_missing:
            self._told_missing = True
            warnings.warn(
                f"`{self.policy.name}` watches {name!r}, which this report lacks (it has "
                f"{', '.join(sorted(metrics)) or 'nothing'}): report {name}=... or give "
                f"{self.policy.name}(metric=NAME)",
                UserWarning,
                stacklevel=5,  # the caller of Monitor.report
            )
        return None


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Plateau(AdaptivePolicy):
    """Multiply the LR by `factor` when the watched metric stops improving.

    Formula: starts at `lr`; after more than `patience` reports of `metric` without improvement,
    `lr <- max(lr * factor, min_lr)` (a change smaller than `eps` is ignored). Without reports it
    is constant.

    Example:
        >>> import lrbench
        >>> p = lrbench.parse("plateau(lr=0.1,patience=0)")
        >>> c = p.controller()
        >>> c.report(10, {"loss": 1.0}); c.report(20, {"loss": 1.0}); c.lr(21)
        0.010000000000000002

    Same as: torch `ReduceLROnPlateau`; Hugging Face `reduce_lr_on_plateau`.
    """

    name = "plateau"
    formula = "lr * factor^(number of plateaus), floored at min_lr"
    same_as = "torch ReduceLROnPlateau; HF reduce_lr_on_plateau"

    lr: float = param("lr", "the initial learning rate")
    factor: float = param("fraction", "multiplier applied at each plateau", 0.1)
    min_lr: float = param("rate", "the floor", 0.0)
    eps: float = param("rate", "smallest change of LR that is applied", 1e-8)

    def _check(self) -> None:
        if self.min_lr > self.lr:
            raise ConfigError(
                f"`plateau.min_lr` must be <= `lr`, got min_lr={self.min_lr!r}, lr={self.lr!r}"
            )

    def _values(self, t: np.ndarray) -> np.ndarray:
        return np.full_like(t, self.lr)

    def controller(self) -> Controller:
        """A fresh controller holding this policy's state for one run."""
        return _PlateauController(self)


class _PlateauController(_WatchingController):
    policy: Plateau

    def __init__(self, policy: Plateau) -> None:
        self.policy = policy
        self.tracker = policy.tracker()
        self.current = policy.lr

    def lr(self, step: int) -> float:
        return self.current

    def report(self, step: int, metrics: Mapping[str, float]) -> None:
        value = self._watched(metrics)
        if value is not None and self.tracker.update(value):
            reduced = max(self.current * self.policy.factor, self.policy.min_lr)
            if self.current - reduced > self.policy.eps:
                self.current = reduced

    def state_dict(self) -> dict[str, Any]:
        return {"lr": self.current, "tracker": self.tracker.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.current = float(state["lr"])
        self.tracker.load_state_dict(state["tracker"])


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class SwitchOnPlateau(AdaptivePolicy):
    """Dynamic LR tuning: move to the next policy when the watched metric stalls.

    Formula: runs `policies[0](t)`; when `metric` has not improved for more than `patience`
    reports, switches to `policies[i+1]`, which runs on its own clock from the step of the switch.
    The last policy runs to the end. Without reports it is `policies[0]`.

    Example:
        >>> import lrbench
        >>> p = lrbench.parse("switch_on_plateau(policies=[fixed(lr=0.1),"
        ...                   "cosine(lr=0.05,total_steps=100)],patience=0)")
        >>> c = p.controller()
        >>> c.report(10, {"loss": 1.0}); c.report(20, {"loss": 1.2}); c.lr(20)
        0.05

    Reference: LRBench's ChangeLROnPlateau (Wu et al., IEEE BigData 2019).
    """

    name = "switch_on_plateau"
    formula = "policies[i](t - t_switch_i), i advanced when the metric stalls"
    same_as = "LRBench ChangeLROnPlateau"

    policies: tuple[Policy, ...] = param("policy_list", "the policies to move through, in order")

    def _check(self) -> None:
        if any(p.adaptive for p in self.policies):
            raise ConfigError("`switch_on_plateau.policies` must be closed-form policies")

    def _values(self, t: np.ndarray) -> np.ndarray:
        return self.policies[0].values(t)

    def controller(self) -> Controller:
        """A fresh controller holding this policy's state for one run."""
        return _SwitchController(self)


class _SwitchController(_WatchingController):
    policy: SwitchOnPlateau

    def __init__(self, policy: SwitchOnPlateau) -> None:
        self.policy = policy
        self.tracker = policy.tracker()
        self.index = 0
        self.switched_at = 0

    def lr(self, step: int) -> float:
        return self.policy.policies[self.index](max(step - self.switched_at, 0))

    def report(self, step: int, metrics: Mapping[str, float]) -> None:
        value = self._watched(metrics)
        stalled = value is not None and self.tracker.update(value)
        if stalled and self.index < len(self.policy.policies) - 1:
            self.index += 1
            self.switched_at = step

    def state_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "switched_at": self.switched_at,
            "tracker": self.tracker.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.index = int(state["index"])
        self.switched_at = int(state["switched_at"])
        self.tracker.load_state_dict(state["tracker"])
