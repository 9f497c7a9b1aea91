"""Closed-form decaying policies: the classic schedules of torch, Hugging Face and LRBench.

Every class here takes the `warmup_steps`, `warmup_init` and `warmup_shape` options (see
`WithWarmup`); formulas are written on the post-warmup clock `t' = t - warmup_steps` with horizon
`T' = total_steps - warmup_steps`. Without warmup, `t' = t` and `T' = total_steps`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from lrbench.exceptions import ConfigError
from lrbench.policies._base import Policy, param
from lrbench.policies._combinators import WithWarmup
from lrbench.policies._registry import register

__all__ = [
    "Anneal",
    "Cosine",
    "CosineRestarts",
    "Exp",
    "Fixed",
    "Inv",
    "InverseSqrt",
    "Linear",
    "MultiStep",
    "OneCycle",
    "Poly",
    "Sigmoid",
    "Step",
    "WarmupStableDecay",
]


def check_floor(policy: str, lr: float, min_lr: float, lr_name: str = "lr") -> None:
    """Raise unless `min_lr <= lr`, naming both fields."""
    if min_lr > lr:
        raise ConfigError(
            f"`{policy}.min_lr` must be <= `{lr_name}`, got min_lr={min_lr!r}, {lr_name}={lr!r}"
        )


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Fixed(WithWarmup):
    """A constant LR.

    Formula: `lr` (after the optional warmup). Step 0: `lr`, or `warmup_init` with a warmup.

    Example:
        >>> import lrbench
        >>> lrbench.parse("fixed(lr=0.1,warmup_steps=10)").values([0, 5, 10, 1000]).tolist()
        [0.0, 0.05, 0.1, 0.1]

    Same as: Hugging Face `constant` and `constant_with_warmup`; LRBench FIX.
    """

    name = "fixed"
    formula = "lr"
    same_as = "HF constant, constant_with_warmup; LRBench FIX"

    lr: float = param("lr", "the learning rate")

    def _decay(self, t: np.ndarray) -> np.ndarray:
        return np.full_like(t, self.lr)


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Step(WithWarmup):
    """Multiply the LR by `gamma` every `step_size` steps.

    Formula: `lr * gamma ** floor(t' / step_size)`. Step 0: `lr`.

    Example:
        >>> import lrbench
        >>> lrbench.parse("step(lr=0.1,gamma=0.5,step_size=10)").values([0, 9, 10, 25]).tolist()
        [0.1, 0.1, 0.05, 0.025]

    Same as: torch `StepLR`; LRBench STEP (`l` = step_size).
    """

    name = "step"
    formula = "lr * gamma^floor(t/step_size)"
    same_as = "torch StepLR; LRBench STEP"

    lr: float = param("lr", "the initial learning rate")
    gamma: float = param("positive", "multiplicative factor per step_size steps")
    step_size: int = param("positive_steps", "steps between decays")

    def _decay(self, t: np.ndarray) -> np.ndarray:
        return self.lr * self.gamma ** np.floor(t / self.step_size)


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class MultiStep(WithWarmup):
    """Multiply the LR by `gamma` at each milestone.

    Formula: `lr * gamma ** (number of milestones <= t')`. Step 0: `lr`.

    Example:
        >>> import lrbench
        >>> p = lrbench.parse("multistep(lr=0.1,gamma=0.1,milestones=[150,180])")
        >>> p.values([149, 150, 180]).round(12).tolist()
        [0.1, 0.01, 0.001]

    Same as: torch `MultiStepLR`; LRBench NSTEP (`l` = milestones).
    """

    name = "multistep"
    formula = "lr * gamma^(#milestones <= t)"
    same_as = "torch MultiStepLR; LRBench NSTEP"

    lr: float = param("lr", "the initial learning rate")
    gamma: float = param("positive", "multiplicative factor at each milestone")
    milestones: tuple[int, ...] = param("step_list", "steps at which the LR drops")

    def _decay(self, t: np.ndarray) -> np.ndarray:
        passed = np.searchsorted(np.asarray(self.milestones, dtype=np.float64), t, side="right")
        return self.lr * self.gamma ** passed.astype(np.float64)


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Exp(WithWarmup):
    """Exponential decay every step.

    Formula: `lr * gamma ** t'`. Step 0: `lr`.

    Example:
        >>> import lrbench
        >>> lrbench.parse("exp(lr=0.1,gamma=0.5)").values([0, 1, 2]).tolist()
        [0.1, 0.05, 0.025]

    Same as: torch `ExponentialLR`; LRBench EXP.
    """

    name = "exp"
    formula = "lr * gamma^t"
    same_as = "torch ExponentialLR; LRBench EXP"

    lr: float = param("lr", "the initial learning rate")
    gamma: float = param("positive", "multiplicative factor per step")

    def _decay(self, t: np.ndarray) -> np.ndarray:
        return self.lr * self.gamma**t


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Inv(WithWarmup):
    """Inverse-time decay (Caffe's `inv`).

    Formula: `lr * (1 + gamma * t') ** (-power)`. Step 0: `lr`.

    Example:
        >>> import lrbench
        >>> lrbench.parse("inv(lr=0.1,gamma=1,power=1)").values([0, 1, 3]).tolist()
        [0.1, 0.05, 0.025]

    Same as: LRBench INV (`p` = power); Caffe `inv`.
    """

    name = "inv"
    formula = "lr * (1 + gamma*t)^(-power)"
    same_as = "LRBench INV; Caffe inv"

    lr: float = param("lr", "the initial learning rate")
    gamma: float = param("positive", "decay rate")
    power: float = param("positive", "decay exponent")

    def _decay(self, t: np.ndarray) -> np.ndarray:
        return self.lr * (1.0 + self.gamma * t) ** (-self.power)


def half_cosine(progress: np.ndarray) -> np.ndarray:
    """`(1 + cos(pi * progress)) / 2`: 1 at progress 0, 0 at progress 1."""
    return 0.5 * (1.0 + np.cos(np.pi * progress))


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Anneal(WithWarmup):
    """Base of the policies that anneal from `lr` to `min_lr` over the whole horizon.

    `lr(t') = min_lr + (lr - min_lr) * shape(p)` with progress `p = min(t', T') / T'`, so the
    LR is `lr` when the warmup ends and `min_lr` from `total_steps` on. Subclasses give `shape`.
    """

    lr: float = param("lr", "the initial (peak) learning rate")
    min_lr: float = param("rate", "the final learning rate", 0.0)
    total_steps: int = param("positive_steps", "horizon, warmup included")

    def _check(self) -> None:
        check_floor(self.name, self.lr, self.min_lr)
        super()._check()

    def _shape(self, progress: np.ndarray) -> np.ndarray:
        """1 at progress 0, 0 at progress 1."""
        raise NotImplementedError

    def _decay(self, t: np.ndarray) -> np.ndarray:
        progress = np.minimum(t, self.horizon) / self.horizon
        return self.min_lr + (self.lr - self.min_lr) * self._shape(progress)


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Poly(Anneal):
    """Polynomial decay from `lr` to `min_lr` over the horizon, then `min_lr`.

    Formula: `min_lr + (lr - min_lr) * (1 - min(t', T') / T') ** power`. Step 0 (or the end of
    warmup): `lr`; step `total_steps` and beyond: `min_lr`.

    Example:
        >>> import lrbench
        >>> lrbench.parse("poly(lr=0.1,total_steps=10,power=2)").values([0, 5, 10, 20]).tolist()
        [0.1, 0.025, 0.0, 0.0]

    Same as: torch `PolynomialLR` (min_lr=0); Hugging Face `polynomial` (`lr_end` = min_lr);
    LRBench POLY.
    """

    name = "poly"
    formula = "min_lr + (lr - min_lr) * (1 - min(t,T)/T)^power"
    same_as = "torch PolynomialLR; HF polynomial; LRBench POLY"

    power: float = param("positive", "exponent of the decay", 1.0)

    def _shape(self, progress: np.ndarray) -> np.ndarray:
        return (1.0 - progress) ** self.power


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Linear(Anneal):
    """Linear decay from `lr` to `min_lr` over the horizon, then `min_lr` (poly with power 1).

    Formula: `min_lr + (lr - min_lr) * (1 - min(t', T') / T')`. Step 0 (or the end of warmup):
    `lr`; step `total_steps` and beyond: `min_lr`.

    Example:
        >>> import lrbench
        >>> lrbench.parse("linear(lr=2e-5,total_steps=100,warmup_steps=10)").values(
        ...     [0, 5, 10, 55, 100]).tolist()
        [0.0, 1e-05, 2e-05, 1e-05, 0.0]

    Same as: Hugging Face `linear` (`get_linear_schedule_with_warmup`).
    """

    name = "linear"
    formula = "min_lr + (lr - min_lr) * (1 - min(t,T)/T)"
    same_as = "HF linear"

    def _shape(self, progress: np.ndarray) -> np.ndarray:
        return 1.0 - progress


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Cosine(Anneal):
    """Cosine annealing from `lr` to `min_lr` over the horizon, then `min_lr`.

    Formula: `min_lr + (lr - min_lr) * (1 + cos(pi * min(t', T') / T')) / 2`. Step 0 (or the end
    of warmup): `lr`; step `total_steps`: `min_lr`, and it stays there (torch's
    `CosineAnnealingLR` and Hugging Face's `cosine` rise again past the horizon; this does not).

    Example:
        >>> import lrbench
        >>> lrbench.parse("cosine(lr=0.1,min_lr=0.01,total_steps=100)").values([0, 50, 100, 150])
        array([0.1  , 0.055, 0.01 , 0.01 ])

    Same as: torch `CosineAnnealingLR` (`eta_min` = min_lr); Hugging Face `cosine` and
    `cosine_with_min_lr`. Reference: Loshchilov & Hutter, "SGDR" (ICLR 2017).
    """

    name = "cosine"
    formula = "min_lr + (lr - min_lr) * (1 + cos(pi*min(t,T)/T))/2"
    same_as = "torch CosineAnnealingLR; HF cosine, cosine_with_min_lr"

    def _shape(self, progress: np.ndarray) -> np.ndarray:
        return half_cosine(progress)


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Sigmoid(Policy):
    """A logistic curve centred at `center` (LRBench SIG).

    Formula: `lr / (1 + exp(-gamma * (t - center)))`. With `gamma > 0` it rises towards `lr`;
    with `gamma < 0` it falls from `lr` towards 0. Step `center`: `lr / 2`.

    Example:
        >>> import lrbench
        >>> lrbench.parse("sigmoid(lr=0.1,gamma=0.05,center=100)")(100)
        0.05

    Same as: LRBench SIG (`l` = center).
    """

    name = "sigmoid"
    formula = "lr / (1 + exp(-gamma*(t - center)))"
    same_as = "LRBench SIG"

    lr: float = param("lr", "the asymptotic learning rate")
    gamma: float = param("number", "steepness (negative: decreasing)")
    center: float = param("number", "step of the midpoint")

    def _values(self, t: np.ndarray) -> np.ndarray:
        return self.lr / (1.0 + np.exp(-self.gamma * (t - self.center)))


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class InverseSqrt(WithWarmup):
    """Inverse square-root decay (the Transformer schedule).

    Formula: `lr / sqrt((t' + tau) / tau)` with `tau = timescale`, default `warmup_steps` or
    10000 without warmup. Step 0 (or the end of warmup): `lr`; no horizon.

    Example:
        >>> import lrbench
        >>> lrbench.parse("inverse_sqrt(lr=1,timescale=1)").values([0, 3, 8]).tolist()
        [1.0, 0.5, 0.3333333333333333]

    Same as: Hugging Face `inverse_sqrt`. Reference: Vaswani et al., "Attention Is All You
    Need" (2017); big_vision's `rsqrt` schedule.
    """

    name = "inverse_sqrt"
    formula = "lr / sqrt((t + tau)/tau), tau = timescale or warmup_steps or 10000"
    same_as = "HF inverse_sqrt"

    lr: float = param("lr", "the peak learning rate")
    timescale: float | None = param(
        "positive", "decay timescale in steps (default: warmup_steps, or 10000)", None
    )

    @property
    def tau(self) -> float:
        """The timescale with its default resolved."""
        if self.timescale is not None:
            return self.timescale
        return float(self.warmup_steps or 10_000)

    def _decay(self, t: np.ndarray) -> np.ndarray:
        return self.lr / np.sqrt((t + self.tau) / self.tau)


DECAY_SHAPES = ("linear", "cosine", "sqrt")


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class WarmupStableDecay(WithWarmup):
    """Warmup, a stable phase at `lr`, then a decay to `min_lr` over the last `decay_steps`.

    Formula (after warmup, `S = T' - decay_steps` stable steps, `p = min(t' - S, D) / D`):
    `lr` for `t' < S`, then `min_lr + (lr - min_lr) * f(p)` with `f(p) = 1 - p` (linear),
    `(1 + cos(pi p)) / 2` (cosine) or `1 - sqrt(p)` (sqrt). The warmup starts at `min_lr` unless
    `warmup_init` is given (Hugging Face's convention). Step `total_steps` and beyond: `min_lr`.

    Example:
        >>> import lrbench
        >>> p = lrbench.parse("wsd(lr=1e-3,min_lr=1e-5,total_steps=1000,warmup_steps=100,"
        ...                   "decay_steps=200)")
        >>> p(0), p(100), p(799), p(1000)
        (1e-05, 0.001, 0.001, 1e-05)

    Same as: Hugging Face `warmup_stable_decay` (`decay_type="1-sqrt"` is `decay_shape=sqrt`).
    Reference: Hu et al., "MiniCPM" (2024); Hägele et al., "Scaling Laws and Compute-Optimal
    Training Beyond Fixed Training Durations" (2024).
    """

    name = "wsd"
    formula = "lr until the last decay_steps, then min_lr + (lr - min_lr) * f(progress)"
    same_as = "HF warmup_stable_decay"

    lr: float = param("lr", "the stable (peak) learning rate")
    min_lr: float = param("rate", "the final learning rate, and the warmup's start", 0.0)
    total_steps: int = param("positive_steps", "horizon, warmup included")
    decay_steps: int = param("positive_steps", "length of the final decay")
    decay_shape: str = param("choice", "shape of the decay", "linear", choices=DECAY_SHAPES)

    def _default_warmup_init(self) -> float:
        return self.min_lr

    def _check(self) -> None:
        check_floor(self.name, self.lr, self.min_lr)
        if self.warmup_steps + self.decay_steps > self.total_steps:
            raise ConfigError(
                "`wsd.warmup_steps` + `decay_steps` must be <= `total_steps`, got "
                f"warmup_steps={self.warmup_steps}, decay_steps={self.decay_steps}, "
                f"total_steps={self.total_steps}"
            )
        super()._check()

    def _decay(self, t: np.ndarray) -> np.ndarray:
        stable = self.horizon - self.decay_steps
        progress = np.clip((t - stable) / self.decay_steps, 0.0, 1.0)
        if self.decay_shape == "linear":
            factor = 1.0 - progress
        elif self.decay_shape == "cosine":
            factor = half_cosine(progress)
        else:
            factor = 1.0 - np.sqrt(progress)
        return self.min_lr + (self.lr - self.min_lr) * factor


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class CosineRestarts(WithWarmup):
    """Cosine annealing with warm restarts (SGDR).

    Formula: `min_lr + (lr - min_lr) * (1 + cos(pi * c / L)) / 2` at position `c` of a cycle of
    length `L`; cycle `i` lasts `period * period_mult ** i` steps. Step 0 (or the end of warmup)
    and every restart: `lr`. With `total_steps`, the LR stays at `min_lr` from `total_steps` on.

    Example:
        >>> import lrbench
        >>> lrbench.parse("cosine_restarts(lr=1,period=4)").values([0, 2, 4, 6]).tolist()
        [1.0, 0.5, 1.0, 0.5]

    Same as: torch `CosineAnnealingWarmRestarts` (`T_0` = period, `T_mult` = period_mult);
    Hugging Face `cosine_with_restarts` (`period` = (total_steps - warmup_steps) / num_cycles).
    Reference: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts"
    (ICLR 2017).
    """

    name = "cosine_restarts"
    formula = "min_lr + (lr - min_lr) * (1 + cos(pi * c/L))/2, c steps into a cycle of length L"
    same_as = "torch CosineAnnealingWarmRestarts; HF cosine_with_restarts"

    lr: float = param("lr", "the LR at each restart")
    min_lr: float = param("rate", "the LR at the end of each cycle", 0.0)
    period: float = param("positive", "length of the first cycle in steps")
    period_mult: float = param("positive", "growth factor of each cycle's length (>= 1)", 1.0)
    total_steps: int | None = param(
        "positive_steps", "optional horizon after which the LR stays at min_lr", None
    )

    def _check(self) -> None:
        check_floor(self.name, self.lr, self.min_lr)
        if self.period_mult < 1:
            raise ConfigError(
                f"`cosine_restarts.period_mult` must be >= 1, got period_mult={self.period_mult!r}"
            )
        super()._check()

    def _cycles(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start step and length of cycle `index` (an array of cycle numbers)."""
        if self.period_mult == 1:
            return index * self.period, np.full_like(index, self.period)
        scale = self.period_mult**index
        return self.period * (scale - 1.0) / (self.period_mult - 1.0), self.period * scale

    def _decay(self, t: np.ndarray) -> np.ndarray:
        if self.period_mult == 1:
            index = np.floor(t / self.period)
        else:
            ratio = 1.0 + t * (self.period_mult - 1.0) / self.period
            index = np.floor(np.log(ratio) / np.log(self.period_mult))
        start, length = self._cycles(index)
        # Rounding can put the cycle index one off next to a restart; settle those few exactly.
        off = (start > t) | (start + length <= t * (1 + 1e-12))
        if off.any():
            index[off] += np.where(start[off] > t[off], -1.0, 1.0)
            start[off], length[off] = self._cycles(index[off])
        position = np.maximum(t - start, 0.0)
        lr = self.min_lr + (self.lr - self.min_lr) * half_cosine(position / length)
        if self.total_steps is not None:
            lr = np.where(t >= self.horizon, self.min_lr, lr)
        return lr


@register
@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class OneCycle(Policy):
    """The 1cycle policy: anneal up from `max_lr / div_factor` to `max_lr`, then down.

    Formula (torch's phases, `T = total_steps`, `P = pct_start`): two-phase rises over steps
    `0..P*T-1` and falls to `max_lr / (div_factor * final_div_factor)` at step `T-1`;
    three-phase rises, falls back to the initial LR at `2*P*T-2`, then falls to the minimum.
    Each phase anneals by cosine `end + (start - end) * (1 + cos(pi p)) / 2` or linearly.
    Step 0: `max_lr / div_factor`; step `T-1` and beyond: the minimum.

    Example:
        >>> import lrbench
        >>> p = lrbench.parse("one_cycle(max_lr=0.1,total_steps=100,pct_start=0.5)")
        >>> round(p(0), 12), p(49), round(p(99), 12)
        (0.004, 0.1, 4e-07)

    Same as: torch `OneCycleLR`. Reference: Smith & Topin, "Super-Convergence" (2017).
    """

    name = "one_cycle"
    formula = "anneal(max_lr/div, max_lr) then anneal(max_lr, max_lr/(div*final_div))"
    same_as = "torch OneCycleLR"

    max_lr: float = param("lr", "the peak learning rate")
    total_steps: int = param("positive_steps", "length of the cycle")
    pct_start: float = param("fraction", "fraction of the cycle spent increasing", 0.3)
    div_factor: float = param("positive", "initial LR = max_lr / div_factor", 25.0)
    final_div_factor: float = param("positive", "final LR = initial LR / final_div_factor", 1e4)
    three_phase: bool = param("bool", "return to the initial LR before the final anneal", False)
    anneal_shape: str = param(
        "choice", "annealing within a phase", "cos", choices=("cos", "linear")
    )

    def _phases(self) -> list[tuple[float, float, float]]:
        """(end step, start LR, end LR) of each phase, with torch's step arithmetic."""
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        rise_end = float(self.pct_start * self.total_steps) - 1
        last = float(self.total_steps - 1)
        if self.three_phase:
            fall_end = float(2 * self.pct_start * self.total_steps) - 2
            return [
                (rise_end, initial, self.max_lr),
                (fall_end, self.max_lr, initial),
                (last, initial, final),
            ]
        return [(rise_end, initial, self.max_lr), (last, self.max_lr, final)]

    def _check(self) -> None:
        initial = self.max_lr / self.div_factor
        if not math.isfinite(initial / self.final_div_factor):
            raise ConfigError(
                "`one_cycle.div_factor` and `final_div_factor` must leave finite LRs, got "
                f"initial LR {initial:g} and final LR {initial / self.final_div_factor:g}"
            )
        begin = 0.0
        for end, _, _ in self._phases():
            if end <= begin:
                raise ConfigError(
                    "`one_cycle` phases must each last at least one step, got "
                    f"total_steps={self.total_steps}, pct_start={self.pct_start!r}, "
                    f"three_phase={self.three_phase}"
                )
            begin = end

    def _anneal(self, start: float, end: float, progress: np.ndarray) -> np.ndarray:
        if self.anneal_shape == "cos":
            return end + (start - end) / 2.0 * (np.cos(np.pi * progress) + 1)
        return (end - start) * progress + start

    def _values(self, t: np.ndarray) -> np.ndarray:
        out = np.empty_like(t)
        begin = 0.0
        phases = self._phases()
        for index, (end, start_lr, end_lr) in enumerate(phases):
            last = index == len(phases) - 1
            mask = ((t > begin) | (index == 0)) & ((t <= end) | last)
            progress = np.minimum((t[mask] - begin) / (end - begin), 1.0)
            out[mask] = self._anneal(start_lr, end_lr, progress)
            begin = end
        return out
