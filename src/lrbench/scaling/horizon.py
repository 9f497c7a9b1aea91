"""How the best LR moves with the training horizon, fitted from short sweeps.

At each short horizon (steps or tokens) the final metric is fitted as a quadratic in ln LR
around the best LR swept; its vertex is that horizon's optimum, and the LRs whose fitted
metric lies within a tolerance of the vertex's are its near-optimal band. Across horizons
the optima follow a power law, LR*(D) = B * D^-beta (Bjorck et al. 2024 measured beta of
about 0.32 for LLaMA-style LLMs trained with AdamW); B and beta are fitted by least squares
in log-log space and their uncertainty by resampling each horizon's sweep (bootstrap).
beta near zero is a real answer: the optimum of a small model on a short cosine schedule can
stay put across an order of magnitude of steps.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from lrbench.evaluate import Direction
from lrbench.exceptions import ConfigError

__all__ = [
    "PRIOR_EXPONENT",
    "PRIOR_EXPONENT_RANGE",
    "HorizonLaw",
    "HorizonOptimum",
    "LRPrediction",
    "fit_horizon_law",
    "fit_optimum",
]

#: LRs or metric values: a list, or a numpy array.
Numbers = Sequence[float] | np.ndarray

#: beta assumed when only one horizon was swept (Bjorck et al. 2024, LLaMA-style models).
PRIOR_EXPONENT = 0.32
#: The range of beta a one-horizon prediction's interval spans: from flat to steeper than LLMs.
PRIOR_EXPONENT_RANGE = (0.0, 0.5)
#: Points either side of the best LR that the quadratic is fitted to.
NEIGHBOURS = 2


@dataclasses.dataclass(frozen=True)
class HorizonOptimum:
    """The best LR found at one horizon.

    Attributes:
        horizon: The training length the sweep used (steps, or tokens).
        lr: The fitted optimum (the vertex of the quadratic in ln LR), or the best LR swept
            where no quadratic opens the right way (`fitted` False).
        low: Lowest LR of the near-optimal band (fitted metric within `tolerance` of the best).
        high: Highest LR of the band.
        value: The metric at `lr` (fitted, or measured when not fitted).
        points: Sweep points (distinct LRs) the fit used.
        fitted: Whether a quadratic located the optimum.
        edge: "bottom" or "top" when the best LR swept is the lowest or highest one: the
            optimum may lie beyond the sweep; "" otherwise.
    """

    horizon: float
    lr: float
    low: float
    high: float
    value: float
    points: int
    fitted: bool
    edge: str


@dataclasses.dataclass(frozen=True)
class LRPrediction:
    """The LR predicted for one horizon, with its uncertainty.

    Attributes:
        horizon: The horizon predicted for.
        lr: The predicted optimum.
        low: Lower end of the interval for the optimum (bootstrap, or the prior's range).
        high: Upper end of that interval.
        band_low: Lowest LR expected to land within the tolerance of the best metric (the
            nearest swept horizon's band, moved to `lr`).
        band_high: Highest such LR.
    """

    horizon: float
    lr: float
    low: float
    high: float
    band_low: float
    band_high: float


@dataclasses.dataclass(frozen=True)
class HorizonLaw:
    """LR*(D) = coefficient * D^-exponent, fitted over the optima of several horizons.

    Attributes:
        coefficient: B, the optimum at a horizon of 1.
        exponent: beta; 0 means the optimum does not move with the horizon.
        exponent_low: Lower end of beta's interval (bootstrap, or the prior's range).
        exponent_high: Upper end of beta's interval.
        optima: Each horizon's optimum, shortest first.
        prior: True when beta is the stated prior (one horizon only), not fitted.
        confidence: The interval's coverage (0.9: the 5th to 95th percentile).
        draws: Bootstrap draws of (ln B, beta), for intervals of predictions.
    """

    coefficient: float
    exponent: float
    exponent_low: float
    exponent_high: float
    optima: tuple[HorizonOptimum, ...]
    prior: bool
    confidence: float
    draws: tuple[tuple[float, float], ...] = dataclasses.field(repr=False, default=())

    @property
    def flat(self) -> bool:
        """True when beta's interval holds 0: the data do not show the optimum moving."""
        return not self.prior and self.exponent_low <= 0.0 <= self.exponent_high

    def lr_at(self, horizon: float) -> float:
        """The law's optimum at `horizon`."""
        return self.coefficient * horizon ** (-self.exponent)

    def predict(self, horizon: float) -> LRPrediction:
        """The optimum at `horizon` with its interval and near-optimal band."""
        _check_horizon(horizon, "horizon")
        lr = self.lr_at(horizon)
        if self.draws:
            ln_horizon = math.log(horizon)
            predicted = np.array([ln_b - beta * ln_horizon for ln_b, beta in self.draws])
            tail = (1.0 - self.confidence) / 2.0 * 100.0
            low, high = np.exp(np.percentile(predicted, [tail, 100.0 - tail]))
        else:  # the prior's range of beta, pivoting on the one measured horizon
            anchor = self.optima[0]
            ends = [anchor.lr * (horizon / anchor.horizon) ** -b for b in PRIOR_EXPONENT_RANGE]
            low, high = min(ends), max(ends)
        nearest = min(self.optima, key=lambda o: abs(math.log(o.horizon / horizon)))
        return LRPrediction(
            horizon=horizon,
            lr=lr,
            low=float(min(low, lr)),
            high=float(max(high, lr)),
            band_low=lr * nearest.low / nearest.lr,
            band_high=lr * nearest.high / nearest.lr,
        )

    def describe(self) -> str:
        """One sentence on the fit, for terminals and reports."""
        if self.prior:
            return (
                f"one horizon swept: beta is the prior {PRIOR_EXPONENT} (Bjorck et al. 2024, "
                f"LLMs), not fitted; the interval spans beta {PRIOR_EXPONENT_RANGE[0]:g}.."
                f"{PRIOR_EXPONENT_RANGE[1]:g}"
            )
        shape = "flat: the optimum does not move with the horizon within the data's precision"
        if not self.flat:
            shape = (
                "the optimum falls as the horizon grows"
                if self.exponent > 0
                else ("the optimum rises as the horizon grows")
            )
        return (
            f"beta = {self.exponent:.3f} [{self.exponent_low:.3f}, {self.exponent_high:.3f}] "
            f"over {len(self.optima)} horizons ({shape})"
        )


def fit_optimum(
    horizon: float,
    lrs: Numbers,
    values: Numbers,
    *,
    mode: str | Direction = Direction.MIN,
    tolerance: float = 0.01,
) -> HorizonOptimum:
    """The optimum of one horizon's sweep: a quadratic in ln LR through the best LR swept and
    its `NEIGHBOURS` nearest on either side.

    Args:
        horizon: The sweep's training length.
        lrs: LRs swept (repeats, e.g. seeds, are averaged).
        values: The final metric of each; non-finite values (diverged runs) are dropped.
        mode: Whether lower (`min`) or higher (`max`) metric values are better.
        tolerance: The band holds LRs whose fitted metric is within this fraction of the best.

    Raises:
        ConfigError: fewer than two distinct LRs with a finite result, or bad arguments.
    """
    _check_horizon(horizon, "horizon")
    if len(lrs) != len(values):
        raise ConfigError(f"`lrs` and `values` differ in length: {len(lrs)} and {len(values)}")
    sign = 1.0 if Direction.of(mode) is Direction.MIN else -1.0
    if any(not lr > 0 for lr in lrs):
        raise ConfigError(f"every LR must be > 0, got {min(lrs)}")
    ordered, means = _means(lrs, values)
    if len(ordered) < 2:
        raise ConfigError(
            f"horizon {horizon:g}: need finite results at 2 or more distinct LRs to locate an "
            f"optimum, got {len(ordered)}"
        )
    x = np.log(ordered)
    y = sign * means
    best = int(np.argmin(y))
    # Beyond the sweep only where nothing was tried there: a higher LR that diverged bounds it.
    swept = np.log(np.asarray(lrs, dtype=float))
    edge = "bottom" if x[best] <= swept.min() else "top" if x[best] >= swept.max() else ""
    window = slice(max(0, best - NEIGHBOURS), best + NEIGHBOURS + 1)
    vertex = _vertex(x[window], y[window], tolerance)
    if vertex is None:
        return HorizonOptimum(
            horizon=float(horizon),
            lr=float(math.exp(x[best])),
            low=float(math.exp(x[max(0, best - 1)])),
            high=float(math.exp(x[min(len(x) - 1, best + 1)])),
            value=sign * float(y[best]),
            points=len(x),
            fitted=False,
            edge=edge,
        )
    centre, half_width, fitted_value = vertex
    return HorizonOptimum(
        horizon=float(horizon),
        lr=float(math.exp(centre)),
        low=float(math.exp(centre - half_width)),
        high=float(math.exp(centre + half_width)),
        value=sign * fitted_value,
        points=int(x[window].size),
        fitted=True,
        edge=edge,
    )


def _vertex(x: np.ndarray, y: np.ndarray, tolerance: float) -> tuple[float, float, float] | None:
    """(vertex, band half-width, value there) of the least-squares parabola, or None where it
    does not open upwards or its vertex falls outside the fitted points."""
    if x.size < 3:
        return None
    curvature, slope, offset = np.polyfit(x, y, 2)
    if curvature <= 0:
        return None
    centre = -slope / (2.0 * curvature)
    if not x.min() <= centre <= x.max():
        return None
    value = offset - slope**2 / (4.0 * curvature)
    half_width = math.sqrt(tolerance * max(abs(value), 1e-12) / curvature)
    return float(centre), half_width, float(value)


def fit_horizon_law(
    sweeps: Mapping[float, tuple[Numbers, Numbers]],
    *,
    mode: str | Direction = Direction.MIN,
    tolerance: float = 0.01,
    confidence: float = 0.9,
    draws: int = 1000,
    seed: int = 0,
) -> HorizonLaw:
    """Fit LR*(D) = B * D^-beta over sweeps at several horizons.

    Args:
        sweeps: Horizon -> (LRs, final metric values) swept at that horizon.
        mode: Whether lower (`min`) or higher (`max`) metric values are better.
        tolerance: Width of each horizon's near-optimal band (fraction of the best value).
        confidence: Coverage of the intervals (0.9: 5th to 95th percentile).
        draws: Bootstrap resamples of every horizon's sweep.
        seed: Seed of the resampling.

    With one horizon, beta is `PRIOR_EXPONENT` (stated in `HorizonLaw.describe`), and the
    interval of a prediction spans `PRIOR_EXPONENT_RANGE`.

    Raises:
        ConfigError: no sweep, a horizon that is not a positive number, a sweep that locates
            no optimum, or `confidence` outside (0, 1).
    """
    if not sweeps:
        raise ConfigError("no sweeps given: need LRs and results at one or more horizons")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"`confidence` must be in (0, 1), got {confidence}")
    optima = tuple(
        fit_optimum(h, *sweeps[h], mode=mode, tolerance=tolerance) for h in sorted(sweeps)
    )
    if len(optima) == 1:
        only = optima[0]
        return HorizonLaw(
            coefficient=only.lr * only.horizon**PRIOR_EXPONENT,
            exponent=PRIOR_EXPONENT,
            exponent_low=PRIOR_EXPONENT_RANGE[0],
            exponent_high=PRIOR_EXPONENT_RANGE[1],
            optima=optima,
            prior=True,
            confidence=confidence,
        )
    ln_b, beta = _power_law([o.horizon for o in optima], [o.lr for o in optima])
    samples = _bootstrap(sweeps, mode, tolerance, draws, np.random.default_rng(seed))
    tail = (1.0 - confidence) / 2.0 * 100.0
    betas = np.array([b for _, b in samples]) if samples else np.array([beta])
    low, high = np.percentile(betas, [tail, 100.0 - tail])
    return HorizonLaw(
        coefficient=math.exp(ln_b),
        exponent=beta,
        exponent_low=float(min(low, beta)),
        exponent_high=float(max(high, beta)),
        optima=optima,
        prior=False,
        confidence=confidence,
        draws=tuple(samples),
    )


def _power_law(horizons: Sequence[float], lrs: Sequence[float]) -> tuple[float, float]:
    """(ln B, beta) of ln LR = ln B - beta ln D, by least squares."""
    slope, intercept = np.polyfit(np.log(horizons), np.log(lrs), 1)
    return float(intercept), float(-slope)


def _bootstrap(
    sweeps: Mapping[float, tuple[Numbers, Numbers]],
    mode: str | Direction,
    tolerance: float,
    draws: int,
    rng: np.random.Generator,
) -> list[tuple[float, float]]:
    """(ln B, beta) refitted on sweeps whose per-LR means are redrawn with each horizon's
    measured noise (`_noise`). Where that noise is unknown (one seed, a parabola through
    three points) or no parabola fits, the optimum is known only to the grid's resolution:
    each draw moves it uniformly within half a grid step either side. A draw that locates no
    optimum at some horizon is skipped."""
    means = {h: _means(*sweeps[h]) for h in sorted(sweeps)}
    noise = {h: _noise(*sweeps[h], mode=mode) for h in means}
    samples = []
    for _ in range(draws):
        horizons, optima = [], []
        for horizon, (lrs, values) in means.items():
            redrawn = values + rng.normal(0.0, noise[horizon] or 0.0, values.size)
            try:
                found = fit_optimum(horizon, lrs, redrawn, mode=mode, tolerance=tolerance)
            except ConfigError:
                break
            ln_lr = math.log(found.lr)
            if noise[horizon] is None or not found.fitted:
                ln_lr += rng.uniform(-0.5, 0.5) * _grid_step(lrs)
            horizons.append(horizon)
            optima.append(math.exp(ln_lr))
        else:
            samples.append(_power_law(horizons, optima))
    return samples


def _grid_step(lrs: Sequence[float]) -> float:
    """The median spacing of a sweep's LRs in ln LR."""
    gaps = np.diff(np.log(sorted(lrs)))
    return float(np.median(gaps)) if gaps.size else 0.0


def _finite_by_lr(lrs: Numbers, values: Numbers) -> dict[float, list[float]]:
    """Each distinct LR's finite results (its seeds)."""
    by_lr: dict[float, list[float]] = {}
    for lr, value in zip(lrs, values, strict=True):
        if math.isfinite(value):
            by_lr.setdefault(float(lr), []).append(float(value))
    return by_lr


def _means(lrs: Numbers, values: Numbers) -> tuple[list[float], np.ndarray]:
    """Distinct LRs with a finite result, and the mean result of each."""
    by_lr = _finite_by_lr(lrs, values)
    ordered = sorted(by_lr)
    return ordered, np.array([np.mean(by_lr[lr]) for lr in ordered])


def _noise(lrs: Numbers, values: Numbers, *, mode: str | Direction) -> float | None:
    """The standard error of a per-LR mean: from repeated seeds where there are any, else
    from how far the points around the best depart from the fitted parabola; None when
    neither can say (one seed, three points or fewer around the best)."""
    by_lr = _finite_by_lr(lrs, values)
    repeated = [v for v in by_lr.values() if len(v) > 1]
    if repeated:
        pooled = np.mean([np.var(v, ddof=1) for v in repeated])
        seeds = np.mean([len(v) for v in by_lr.values()])
        return float(math.sqrt(pooled / seeds))
    ordered, means = _means(lrs, values)
    x = np.log(ordered)
    best = int(np.argmin(means if Direction.of(mode) is Direction.MIN else -means))
    window = slice(max(0, best - NEIGHBOURS), best + NEIGHBOURS + 1)
    if x[window].size <= 3:
        return None
    residuals = np.polyval(np.polyfit(x[window], means[window], 2), x[window]) - means[window]
    return float(math.sqrt(np.sum(residuals**2) / (x[window].size - 3)))


def _check_horizon(value: float, name: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigError(f"`{name}` must be a positive number, got {value!r}")
