"""A run's loss under any LR schedule, predicted from one or two measured training curves.

Tissue et al. (2024) found that the loss of a run follows

    L(s) = L0 + A * S1(s)^-alpha - C * S2(s)

where S1 is the forward area (the sum of the LRs of steps 1..s) and S2 the annealing area:
each step's drop in LR, eta_{i-1} - eta_i, feeds a momentum m_i = decay * m_{i-1} + drop, and
S2 sums the momenta (decay about 0.999, so a decay's benefit arrives over the steps after
it). As in the paper, warmup is not annealing: a rise in LR adds nothing to the momentum
(counted as a negative drop, a 4-step warmup would outweigh a whole cosine decay), and the
first `SKIPPED_FRACTION` of each fitted curve, where warmup transients rule, is not fitted.
Four numbers fitted on the curve of one run (better two: one constant, one decaying) predict
the final loss of a cosine, WSD, step or one-cycle schedule without training it.

Where the law fails, and the guards here:
- It rewards LR without limit: S1 grows with the peak LR and nothing in the law penalises
  too high an LR. Schedules are therefore compared at the peak LR of the fitted runs (the LR
  itself is tuned elsewhere); a candidate whose peak exceeds the fitted runs' is refused.
- It rewards appending near-zero-LR steps: S1 stays put while the momentum keeps adding to
  S2. Candidates are compared at one horizon (the fitted runs' may be shorter: the law is
  meant to extrapolate), and one that spends more than `MAX_IDLE_FRACTION` of its steps below
  `IDLE_LR_FRACTION` of its peak is refused.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lrbench.exceptions import ConfigError
from lrbench.policies import Policy, parse

__all__ = [
    "ANNEALING_DECAY",
    "AnnealingLaw",
    "MeasuredCurve",
    "SchedulePrediction",
    "annealing_areas",
    "fit_annealing_law",
    "rank_schedules",
]

#: The annealing momentum's decay factor (Tissue et al. 2024 use 0.999).
ANNEALING_DECAY = 0.999
#: The early share of a fitted curve left out of the fit.
SKIPPED_FRACTION = 0.1
#: A step whose LR is below this fraction of the schedule's peak counts as idle.
IDLE_LR_FRACTION = 1e-3
#: The most of its steps a candidate may spend idle and still be predicted.
MAX_IDLE_FRACTION = 0.05
#: A candidate's peak may exceed the fitted runs' peak by this factor (rounding in specs).
PEAK_SLACK = 1.0 + 1e-6


def annealing_areas(
    lrs: Sequence[float] | np.ndarray, decay: float = ANNEALING_DECAY
) -> tuple[np.ndarray, np.ndarray]:
    """(S1, S2) after each step of a schedule whose LR at step i is `lrs[i]`."""
    lr = np.asarray(lrs, dtype=float)
    drops = np.maximum(np.concatenate([[0.0], lr[:-1] - lr[1:]]), 0.0)
    momentum = np.empty_like(lr)
    carried = 0.0
    for i, drop in enumerate(drops):
        carried = decay * carried + drop
        momentum[i] = carried
    return np.cumsum(lr), np.cumsum(momentum)


@dataclasses.dataclass(frozen=True)
class MeasuredCurve:
    """A measured training curve: the schedule's LR at every step, and losses at some steps.

    Attributes:
        lrs: The LR of steps 0..n-1, as the run used it.
        steps: Steps (counted from 1: after that many updates) at which `losses` were measured.
        losses: The loss after each of `steps`.
    """

    lrs: np.ndarray
    steps: np.ndarray
    losses: np.ndarray

    @classmethod
    def of(
        cls,
        policy: Policy | str | Mapping[str, Any],
        total_steps: int,
        points: Mapping[int, float],
    ) -> MeasuredCurve:
        """The curve of a run of `policy` over `total_steps` with losses `{step: loss}`."""
        steps = np.array(sorted(s for s in points if 0 < s <= total_steps), dtype=int)
        losses = np.array([points[int(s)] for s in steps], dtype=float)
        lrs = parse(policy).values(np.arange(total_steps))
        return cls(lrs=lrs, steps=steps, losses=losses)


@dataclasses.dataclass(frozen=True)
class AnnealingLaw:
    """L(s) = floor + scale * S1^-exponent - annealing * S2, fitted to measured curves.

    Attributes:
        floor: L0, the loss an infinite forward area would approach.
        scale: A.
        exponent: alpha.
        annealing: C, the loss taken off per unit of annealing area.
        decay: The momentum's decay factor.
        peak_lr: The highest LR of the fitted runs: candidates are predicted up to it.
        horizon: The fitted runs' length in steps (candidates default to it).
        rmse: Root mean square error of the fit over the measured points.
    """

    floor: float
    scale: float
    exponent: float
    annealing: float
    decay: float
    peak_lr: float
    horizon: int
    rmse: float

    def curve(self, lrs: Sequence[float] | np.ndarray) -> np.ndarray:
        """The predicted loss after each step of a schedule."""
        s1, s2 = annealing_areas(lrs, self.decay)
        s1 = np.maximum(s1, 1e-300)
        return _law(s1, s2, self.floor, self.scale, self.exponent, self.annealing)

    def final_loss(self, lrs: Sequence[float] | np.ndarray) -> float:
        """The predicted loss at the end of a schedule."""
        return float(self.curve(lrs)[-1])

    def refusal(self, lrs: Sequence[float] | np.ndarray) -> str:
        """Why the law cannot be trusted on this schedule, or "" when it can."""
        lr = np.asarray(lrs, dtype=float)
        peak = float(lr.max())
        if peak > self.peak_lr * PEAK_SLACK:
            return f"peak LR {peak:.3g} above the fitted runs' {self.peak_lr:.3g}"
        idle = float(np.mean(lr < IDLE_LR_FRACTION * peak))
        if idle > MAX_IDLE_FRACTION:
            return f"{idle:.0%} of its steps at a near-zero LR"
        final = self.final_loss(lr)
        if final < self.floor:  # annealing credited past what any fitted run measured
            return f"predicted {final:.3g}, below the law's own floor {self.floor:.3g}"
        return ""


def _law(
    s1: np.ndarray, s2: np.ndarray, floor: float, scale: float, exponent: float, annealing: float
) -> np.ndarray:
    with np.errstate(over="ignore"):  # a trial exponent the solver rejects may overflow
        return floor + scale * s1 ** (-exponent) - annealing * s2


def fit_annealing_law(
    curves: Sequence[MeasuredCurve], *, decay: float = ANNEALING_DECAY
) -> AnnealingLaw:
    """Fit the law's four numbers to one or more measured curves of the same length.

    Raises:
        ConfigError: no curves, curves of different lengths, fewer than 5 measured points,
            non-finite losses, or a fit that overflowed.
    """
    from scipy.optimize import least_squares

    if not curves:
        raise ConfigError("need one or more measured training curves to fit the schedule law")
    horizons = {c.lrs.size for c in curves}
    if len(horizons) != 1:
        raise ConfigError(f"the fitted curves must share one length, got {sorted(horizons)}")
    s1_parts, s2_parts, loss_parts = [], [], []
    for curve in curves:
        s1, s2 = annealing_areas(curve.lrs, decay)
        kept = curve.steps > SKIPPED_FRACTION * curve.lrs.size
        s1_parts.append(s1[curve.steps[kept] - 1])
        s2_parts.append(s2[curve.steps[kept] - 1])
        loss_parts.append(curve.losses[kept])
    s1, s2, losses = (np.concatenate(p) for p in (s1_parts, s2_parts, loss_parts))
    if losses.size < 5:
        raise ConfigError(f"need 5 or more measured loss points to fit the law, got {losses.size}")
    if not np.all(np.isfinite(losses)):
        raise ConfigError("the measured losses hold NaN or infinity: fit runs that kept finite")
    s1 = np.maximum(s1, 1e-300)

    def residuals(theta: np.ndarray) -> np.ndarray:
        return _law(s1, s2, *theta) - losses

    # A loss (cross-entropy, squared error) has a floor of at least 0; the annealing term
    # starts where it would explain a tenth of the loss's range.
    lowest, spread = float(losses.min()), max(float(losses.max() - losses.min()), 1e-3)
    start = np.array(
        [
            max(0.9 * lowest, 0.0) if lowest >= 0 else lowest,
            spread * float(np.median(s1)) ** 0.5,
            0.5,
            0.1 * spread / max(float(s2.max()), 1e-12),
        ]
    )
    # Curves without any decay (constant LRs) say nothing of the annealing term: it stays 0.
    annealing_max = np.inf if s2.max() > 0 else 1e-12
    start[3] = min(start[3], annealing_max / 2)
    with np.errstate(all="ignore"):  # the solver's trial steps on a degenerate curve overflow
        fit = least_squares(
            residuals,
            start,
            bounds=(
                [0.0 if lowest >= 0 else -np.inf, 0.0, 1e-3, 0.0],
                [np.inf, np.inf, 3.0, annealing_max],
            ),
            x_scale="jac",
        )
    if not np.all(np.isfinite(fit.fun)) or not np.all(np.isfinite(fit.x)):
        raise ConfigError("the schedule law could not be fitted to these curves (it overflowed)")
    floor, scale, exponent, annealing = (float(v) for v in fit.x)
    return AnnealingLaw(
        floor=floor,
        scale=scale,
        exponent=exponent,
        annealing=annealing,
        decay=decay,
        peak_lr=max(float(c.lrs.max()) for c in curves),
        horizon=horizons.pop(),
        rmse=float(math.sqrt(np.mean(fit.fun**2))),
    )


@dataclasses.dataclass(frozen=True)
class SchedulePrediction:
    """A candidate schedule's predicted final loss (NaN with a reason where refused)."""

    policy: str
    loss: float
    refused: str = ""


def rank_schedules(
    law: AnnealingLaw,
    candidates: Sequence[Policy | str | Mapping[str, Any]],
    total_steps: int | None = None,
) -> list[SchedulePrediction]:
    """Every candidate's predicted final loss after `total_steps` (default: the fitted runs'
    length), best first; the ones the law cannot be trusted on come last with the reason."""
    steps = np.arange(total_steps or law.horizon)
    predictions = []
    for candidate in candidates:
        policy = parse(candidate)
        lrs = policy.values(steps)
        refused = law.refusal(lrs)
        loss = math.nan if refused else law.final_loss(lrs)
        predictions.append(SchedulePrediction(policy=str(policy), loss=loss, refused=refused))
    return sorted(predictions, key=lambda p: (bool(p.refused), p.loss))
