"""Combinators: warmup (written once, used by every decaying policy) and sequence."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from lrbench.exceptions import ConfigError
from lrbench.policies._base import Policy, param, where_phases
from lrbench.policies._registry import register

__all__ = ["Sequence", "Warmup", "WithWarmup"]

WARMUP_SHAPES = ("linear", "cosine", "sqrt")


def ramp(progress: np.ndarray, shape: str) -> np.ndarray:
    """Fraction of the way from the warmup's start to its target, for progress in [0, 1)."""
    if shape == "linear":
        return progress
    if shape == "cosine":
        return 0.5 * (1.0 - np.cos(np.pi * progress))
    return 1.0 - np.sqrt(1.0 - progress)


def apply_warmup(
    t: np.ndarray,
    *,
    warmup_steps: int,
    init: float,
    shape: str,
    after: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Ramp from `init` to `after(0)` over `warmup_steps`, then `after(t - warmup_steps)`.

    This is the Hugging Face `get_*_schedule_with_warmup` convention: at step `t < W` the LR is
    `init + (target - init) * ramp(t / W)`; from step `W` on, the wrapped policy runs on its own
    clock starting at zero.
    """
    if warmup_steps == 0:
        return after(t)
    target = float(after(np.zeros(1))[0])

    def warm(clock: np.ndarray) -> np.ndarray:
        return init + (target - init) * ramp(clock / warmup_steps, shape)

    return where_phases(t, [warmup_steps], [warm, after])


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class WithWarmup(Policy):
    """Base of every decaying policy: the `warmup_*` options, sugar for the `warmup` combinator.

    `total_steps`, where a policy has it, includes the warmup: the decay runs over
    `total_steps - warmup_steps` steps on a clock that starts when the warmup ends.
    """

    shared_options = ("warmup_steps", "warmup_init", "warmup_shape")

    warmup_steps: int = param("steps", "steps of warmup, included in total_steps", 0)
    warmup_init: float | None = param(
        "rate", "LR at step 0 of the warmup (default 0; wsd: min_lr)", None
    )
    warmup_shape: str = param("choice", "warmup ramp", "linear", choices=WARMUP_SHAPES)

    def _decay(self, t: np.ndarray) -> np.ndarray:
        """The policy on the post-warmup clock `t' = t - warmup_steps`."""
        raise NotImplementedError

    @property
    def horizon(self) -> int:
        """Steps after the warmup: `total_steps - warmup_steps`."""
        return int(getattr(self, "total_steps")) - self.warmup_steps  # noqa: B009

    def _default_warmup_init(self) -> float:
        return 0.0

    @property
    def effective_warmup_init(self) -> float:
        """The LR the warmup starts from, with the default resolved."""
        return self._default_warmup_init() if self.warmup_init is None else self.warmup_init

    def _check(self) -> None:
        total = getattr(self, "total_steps", None)
        if total is not None and self.warmup_steps >= total:
            raise ConfigError(
                f"`{self.name}.warmup_steps` must be < `total_steps` (a warmup as long as the "
                "run never reaches the peak LR, so the schedule's decay would never run; "
                "Hugging Face accepts it and trains the whole run on the ramp), got "
                f"warmup_steps={self.warmup_steps}, total_steps={total}"
            )
        if self.warmup_steps:
            start = float(self._decay(np.zeros(1))[0])
            if self.effective_warmup_init > start:
                raise ConfigError(
                    f"`{self.name}.warmup_init` must be <= the LR the warmup reaches ({start!r}),"
                    f" got warmup_init={self.effective_warmup_init!r}"
                )

    def _values(self, t: np.ndarray) -> np.ndarray:
        return apply_warmup(
            t,
            warmup_steps=self.warmup_steps,
            init=self.effective_warmup_init,
            shape=self.warmup_shape,
            after=self._decay,
        )


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Warmup(Policy):
    """Warm up any policy: ramp from `warmup_init` to `policy(0)`, then run `policy` on `t - W`.

    Formula: `warmup_init + (policy(0) - warmup_init) * ramp(t / W)` for `t < W`, where ramp is
    `p` (linear), `(1 - cos(pi p)) / 2` (cosine) or `1 - sqrt(1 - p)` (sqrt); `policy(t - W)`
    from `t = W` on. Step 0 gives `warmup_init`; step W gives `policy(0)`.

    Example:
        >>> import lrbench
        >>> p = lrbench.parse("warmup(policy=triangle(min_lr=0.01,max_lr=0.1,half_cycle=50),"
        ...                   "warmup_steps=10)")
        >>> p(0), p(10)
        (0.0, 0.01)

    The decaying policies take `warmup_steps=` directly, which is this combinator.
    """

    name = "warmup"
    formula = "warmup_init + (policy(0) - warmup_init) * ramp(t/W) for t < W, then policy(t - W)"
    same_as = "HF get_*_schedule_with_warmup"

    policy: Policy = param("policy", "the policy to run after the warmup")
    warmup_steps: int = param("positive_steps", "steps of warmup")
    warmup_init: float = param("rate", "LR at step 0", 0.0)
    warmup_shape: str = param("choice", "warmup ramp", "linear", choices=WARMUP_SHAPES)

    def _check(self) -> None:
        if self.policy.adaptive:
            raise ConfigError("`warmup.policy` must be a closed-form policy, not an adaptive one")

    def _values(self, t: np.ndarray) -> np.ndarray:
        return apply_warmup(
            t,
            warmup_steps=self.warmup_steps,
            init=self.warmup_init,
            shape=self.warmup_shape,
            after=self.policy.values,
        )


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Sequence(Policy):
    """Run policies one after another, each on its own clock (LRBench piecewiseLR).

    Formula: stage i is active for `b_(i-1) <= t < b_i` (with `b_0 = 0`) and gives
    `stage_i(t - b_(i-1))`. The last stage runs forever. At a boundary the new stage starts at its
    own step 0, so a jump in LR there is intended, not an error.

    Example:
        >>> import lrbench
        >>> p = lrbench.parse("sequence(stages=[fixed(lr=0.1),cosine(lr=0.05,total_steps=100)],"
        ...                   "boundaries=[50])")
        >>> p(49), p(50)
        (0.1, 0.05)

    Reference: Wu et al., "Demystifying Learning Rate Policies for High Accuracy Training of Deep
    Neural Networks" (IEEE BigData 2019); optax `join_schedules`.
    """

    name = "sequence"
    formula = "stage_i(t - b_(i-1)) for b_(i-1) <= t < b_i"
    same_as = "LRBench piecewiseLR; optax join_schedules"

    stages: tuple[Policy, ...] = param("policy_list", "the policies, in order")
    boundaries: tuple[int, ...] = param("step_list", "steps at which the next stage starts", ())

    def _check(self) -> None:
        if len(self.boundaries) != len(self.stages) - 1:
            raise ConfigError(
                "`sequence.boundaries` must have one entry fewer than `stages`, got "
                f"{len(self.boundaries)} boundaries for {len(self.stages)} stages"
            )
        if any(stage.adaptive for stage in self.stages):
            raise ConfigError(
                "`sequence.stages` must be closed-form policies; use switch_on_plateau to move "
                "between policies on a metric"
            )

    def _values(self, t: np.ndarray) -> np.ndarray:
        return where_phases(t, self.boundaries, [stage.values for stage in self.stages])
