"""The cyclic LRBench families: triangle (CLR), sine, cosine and restart saw-tooth waves.

Each policy oscillates between `min_lr` and `max_lr`:
`lr(t) = min_lr + (max_lr - min_lr) * wave(u) * amplitude(t)` with the phase
`u = (t + shift) / cycle` in cycles. `cycle = 2 * half_cycle` for the triangle, sine and cosine
waves and `half_cycle` for the restart (RSW) waves; `shift = half_cycle` for the variants that
start at the top (`d*`, and LRBench's `cos*`), else 0. Amplitude: 1, or halved every cycle
(`*2`: `2 ** -floor(u)`), or `gamma ** t` (`*_exp`).

The 27 classes are generated from one table (`_STEMS` x `_AMPLITUDES`); each one's
docstring gives its formula. Reference: Wu et al., "Demystifying Learning Rate Policies for
High Accuracy Training of Deep Neural Networks" (IEEE BigData 2019); Smith, "Cyclical Learning
Rates for Training Neural Networks" (WACV 2017).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from lrbench.exceptions import ConfigError
from lrbench.policies._base import Policy, param
from lrbench.policies._decay import check_floor
from lrbench.policies._registry import register

__all__ = ["CYCLIC_POLICIES", "Cyclic", "CyclicExp"]


def _triangle(u: np.ndarray) -> np.ndarray:
    return 1.0 - np.abs(1.0 - 2.0 * (u - np.floor(u)))


def _sine(u: np.ndarray) -> np.ndarray:
    return np.abs(np.sin(np.pi * u))


def _cosine(u: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 - np.cos(2.0 * np.pi * u))


def _saw(u: np.ndarray) -> np.ndarray:
    """Falls from 1 to 0 within each cycle; exactly 0 at each restart."""
    fraction = u - np.floor(u)
    return np.where(fraction == 0.0, 0.0, 1.0 - fraction)


def _sine_saw(u: np.ndarray) -> np.ndarray:
    return np.sin(0.5 * np.pi * _saw(u))


def _cosine_saw(u: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 - np.cos(np.pi * _saw(u)))


@dataclasses.dataclass(frozen=True)
class Wave:
    """One wave shape: its function of the phase, its cycle in half-cycles, and a formula."""

    function: Callable[[np.ndarray], np.ndarray]
    half_cycles_per_cycle: int
    formula: str


WAVES = {
    "triangle": Wave(_triangle, 2, "1 - |1 - 2 frac(u)|"),
    "sin": Wave(_sine, 2, "|sin(pi u)|"),
    "cos": Wave(_cosine, 2, "(1 - cos(2 pi u)) / 2"),
    "rsw": Wave(_saw, 1, "1 - frac(u) (0 at each restart)"),
    "sin_rsw": Wave(_sine_saw, 1, "sin(pi/2 * rsw(u))"),
    "cos_rsw": Wave(_cosine_saw, 1, "(1 - cos(pi * rsw(u))) / 2"),
}


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Cyclic(Policy):
    """Base of the cyclic family; see the module docstring for the shared formula."""

    wave: ClassVar[str] = ""
    starts_high: ClassVar[bool] = False
    amplitude: ClassVar[str] = "constant"  # constant | halving | exp
    lrbench_name: ClassVar[str] = ""

    min_lr: float = param("rate", "the bottom of the wave")
    max_lr: float = param("lr", "the top of the wave")
    half_cycle: float = param(
        "positive", "steps from bottom to top (the restart period for *rsw*)"
    )

    def _check(self) -> None:
        check_floor(self.name, self.max_lr, self.min_lr, lr_name="max_lr")
        if self.half_cycle < 1:
            raise ConfigError(
                f"`{self.name}.half_cycle` must be >= 1 step (a wave shorter than a step cannot "
                f"be sampled), got half_cycle={self.half_cycle!r}"
            )

    def _amplitude(self, t: np.ndarray, u: np.ndarray) -> np.ndarray | float:
        if self.amplitude == "halving":
            return np.ldexp(1.0, -np.floor(u).astype(np.int64))
        return 1.0

    def _values(self, t: np.ndarray) -> np.ndarray:
        wave = WAVES[self.wave]
        shift = self.half_cycle if self.starts_high else 0.0
        u = (t + shift) / (wave.half_cycles_per_cycle * self.half_cycle)
        height = (self.max_lr - self.min_lr) * wave.function(u) * self._amplitude(t, u)
        return self.min_lr + height


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class CyclicExp(Cyclic):
    """Base of the `*_exp` variants: the amplitude decays as `gamma ** t`."""

    amplitude: ClassVar[str] = "exp"

    gamma: float = param("positive", "amplitude decay per step")

    def _check(self) -> None:
        super()._check()
        if self.gamma > 1:
            raise ConfigError(
                f"`{self.name}.gamma` must be <= 1 (it decays the amplitude; above 1 the wave "
                f"grows without bound until it overflows), got gamma={self.gamma!r}"
            )

    def _amplitude(self, t: np.ndarray, u: np.ndarray) -> np.ndarray | float:
        return self.gamma**t


_STEMS = [  # (name stem, LRBench stem, wave, starts at the top)
    ("triangle", "TRI", "triangle", False),
    ("dtriangle", "DTRI", "triangle", True),
    ("sin", "SIN", "sin", False),
    ("dsin", "DSIN", "sin", True),
    ("cos", "COS", "cos", True),
    ("upcos", "UPCOS", "cos", False),
    ("rsw", "RSW", "rsw", False),
    ("sin_rsw", "SINRSW", "sin_rsw", False),
    ("cos_rsw", "COSRSW", "cos_rsw", False),
]
_AMPLITUDES = [("", "", "constant"), ("2", "2", "halving"), ("_exp", "EXP", "exp")]
_TORCH_TWINS = {
    "triangle": "torch CyclicLR triangular",
    "triangle2": "torch CyclicLR triangular2",
    "triangle_exp": "torch CyclicLR exp_range",
}


def _make_cyclic(
    name: str, lrbench_name: str, wave: str, starts_high: bool, amplitude: str
) -> type[Cyclic]:
    """Build and register the dataclass of one cyclic policy, with its own formula and doc."""
    base = CyclicExp if amplitude == "exp" else Cyclic
    shift = "t + half_cycle" if starts_high else "t"
    cycle = "2*half_cycle" if WAVES[wave].half_cycles_per_cycle == 2 else "half_cycle"
    factor = {"constant": "", "halving": " * 2^-floor(u)", "exp": " * gamma^t"}[amplitude]
    formula = f"min_lr + (max_lr - min_lr) * {WAVES[wave].formula}{factor}, u = ({shift})/{cycle}"
    same_as = f"LRBench {lrbench_name}" + (
        f"; {_TORCH_TWINS[name]}" if name in _TORCH_TWINS else ""
    )
    start = "max_lr" if starts_high else "min_lr"
    jump = " (the restart waves then jump to near max_lr at step 1)" if "rsw" in wave else ""
    doc = (
        f"LRBench's {lrbench_name} policy.\n\n    Formula: `{formula}`.\n\n"
        f"    Step 0: `{start}`{jump}. Same as: {same_as}.\n"
    )
    qualname = "".join(part.capitalize() for part in name.split("_"))
    namespace: dict[str, Any] = {
        "name": name,
        "formula": formula,
        "same_as": same_as,
        "wave": wave,
        "starts_high": starts_high,
        "amplitude": amplitude,
        "lrbench_name": lrbench_name,
        "__doc__": doc,
        "__module__": __name__,
        "__qualname__": qualname,
    }
    cls = type(qualname, (base,), namespace)
    return register(dataclasses.dataclass(frozen=True, kw_only=True, repr=False)(cls))


#: Every cyclic policy class by name, in LRBench's order.
CYCLIC_POLICIES: dict[str, type[Cyclic]] = {
    stem + suffix: _make_cyclic(stem + suffix, lb_stem + lb_suffix, wave, high, amplitude)
    for stem, lb_stem, wave, high in _STEMS
    for suffix, lb_suffix, amplitude in _AMPLITUDES
}
