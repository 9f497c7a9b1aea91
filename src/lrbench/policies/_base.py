"""The `Policy` base class and the declarative parameter machinery every policy uses.

A policy is an immutable value (a frozen dataclass) plus a closed-form, vectorised function of the
step. Parameters are declared with `param(kind, ...)`; `Policy.__post_init__` coerces and validates
each one from its kind, then calls the policy's own cross-field `_check()`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from lrbench._numbers import is_finite_number
from lrbench.exceptions import ConfigError

__all__ = ["Param", "Policy", "param"]

#: Parameter kinds and the rule each enforces (used in error messages and `lrbench policies`).
KIND_RULES: dict[str, str] = {
    "lr": "a finite number > 0",
    "rate": "a finite number >= 0",
    "positive": "a finite number > 0",
    "number": "a finite number",
    "fraction": "a number strictly between 0 and 1",
    "steps": "an integer >= 0",
    "positive_steps": "an integer >= 1",
    "step_list": "a list of strictly increasing integers >= 1",
    "choice": "one of the listed words",
    "policy": "a policy",
    "policy_list": "a non-empty list of policies",
    "bool": "true or false",
    "name": "a name of letters, digits and _ . / -",
}

_NAME = re.compile(r"[A-Za-z_][\w./-]*")


@dataclasses.dataclass(frozen=True)
class Param:
    """Declaration of one policy parameter: its kind, whether it is optional, and its meaning."""

    kind: str
    doc: str
    choices: tuple[str, ...] = ()
    optional: bool = False


def param(
    kind: str,
    doc: str,
    default: Any = dataclasses.MISSING,
    *,
    choices: tuple[str, ...] = (),
) -> Any:
    """Declare a policy parameter as a dataclass field.

    Args:
        kind: One of `KIND_RULES`; decides coercion and validation.
        doc: One line for `lrbench policies` and error messages.
        default: The default; omit for a required parameter. `None` means "derived" (documented).
        choices: The allowed words for kind `choice`.
    """
    meta = {"param": Param(kind, doc, choices, optional=default is None)}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _fail(policy: str, name: str, value: Any, rule: str) -> ConfigError:
    return ConfigError(f"`{policy}.{name}` must be {rule}, got {name}={value!r}")


def _finite(policy: str, name: str, value: Any, rule: str) -> float:
    if not is_finite_number(value):
        raise _fail(policy, name, value, rule)
    return float(value)


def _integer(policy: str, name: str, value: Any, rule: str, minimum: int) -> int:
    number = _finite(policy, name, value, rule)
    if not number.is_integer() or number < minimum:
        raise _fail(policy, name, value, rule)
    return int(number)


def coerce(policy: str, name: str, spec: Param, value: Any) -> Any:
    """Return `value` converted to the canonical type of `spec.kind`, or raise `ConfigError`."""
    rule = KIND_RULES[spec.kind]
    if value is None and spec.optional:
        return None
    kind = spec.kind
    if kind in ("lr", "positive"):
        number = _finite(policy, name, value, rule)
        if number <= 0:
            raise _fail(policy, name, value, rule)
        return number
    if kind == "rate":
        number = _finite(policy, name, value, rule)
        if number < 0:
            raise _fail(policy, name, value, rule)
        return number
    if kind == "number":
        return _finite(policy, name, value, rule)
    if kind == "fraction":
        number = _finite(policy, name, value, rule)
        if not 0 < number < 1:
            raise _fail(policy, name, value, rule)
        return number
    if kind == "steps":
        return _integer(policy, name, value, rule, 0)
    if kind == "positive_steps":
        return _integer(policy, name, value, rule, 1)
    if kind == "step_list":
        if not isinstance(value, (list, tuple)):
            raise _fail(policy, name, value, rule)
        items = tuple(_integer(policy, name, v, rule, 1) for v in value)
        if any(b <= a for a, b in itertools.pairwise(items)):
            raise ConfigError(
                f"`{policy}.{name}` must be sorted in strictly increasing order, got {name}="
                f"{list(items)!r}"
            )
        return items
    if kind == "choice":
        if value not in spec.choices:
            raise _fail(policy, name, value, f"one of {', '.join(spec.choices)}")
        return value
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise _fail(policy, name, value, rule)
    if kind == "name":
        if isinstance(value, bool):  # the spec parser reads a bare true/false as a flag
            value = "true" if value else "false"
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise _fail(policy, name, value, rule)
        return value
    if kind == "policy":
        if not isinstance(value, Policy):
            raise _fail(policy, name, value, rule)
        return value
    if kind == "policy_list":
        if (
            not isinstance(value, (list, tuple))
            or not value
            or not all(isinstance(v, Policy) for v in value)
        ):
            raise _fail(policy, name, value, rule)
        return tuple(value)
    raise AssertionError(f"unknown parameter kind {kind!r}")  # a bug in a declaration


def as_steps(steps: Any) -> np.ndarray:
    """Validate an array-like of steps (finite numbers >= 0) and return it as float64."""
    try:
        array = np.asarray(steps, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"`steps` must be numbers >= 0, got {steps!r}") from error
    if array.size and (not np.all(np.isfinite(array)) or array.min() < 0):
        raise ConfigError(f"`steps` must be finite numbers >= 0, got min={array.min()!r}")
    return array


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Policy:
    """A learning-rate policy: an immutable value and a closed-form function of the step.

    `t` is the number of optimizer updates already done (0 for the first update). `policy(t)`
    needs no calls for earlier steps, so a resumed run only needs its step. Policies compare
    and hash by value; `str(p)` is a spec that `lrbench.parse` turns back into `p`, and
    `p.to_dict()` is JSON that `lrbench.from_dict` turns back into `p`.

    Subclasses are frozen keyword-only dataclasses whose fields are declared with `param()`;
    they implement `_values(t)` on a float64 array of validated steps, and may add cross-field
    rules in `_check()`. Register them with `lrbench.policies.register`.
    """

    name: ClassVar[str] = ""
    formula: ClassVar[str] = ""
    same_as: ClassVar[str] = ""
    adaptive: ClassVar[bool] = False
    #: Options shared by a family of policies, listed after the policy's own parameters.
    shared_options: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            spec = field.metadata["param"]
            value = coerce(self.name, field.name, spec, getattr(self, field.name))
            object.__setattr__(self, field.name, value)
        self._check()

    def _check(self) -> None:
        """Cross-field validation; raise `ConfigError` naming the fields. Default: nothing."""

    def _values(self, t: np.ndarray) -> np.ndarray:
        """The LR at each step of `t` (float64, validated); returns an array of `t`'s shape."""
        raise NotImplementedError

    def __call__(self, step: int) -> float:
        """The LR for the update after `step` earlier updates."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ConfigError(f"`step` must be an integer >= 0, got step={step!r}")
        return float(self.values(np.array([step]))[0])

    def values(self, steps: Iterable[int] | np.ndarray) -> np.ndarray:
        """The LR at each of `steps` (an array of step numbers >= 0), as a float64 array."""
        t = as_steps(steps)
        with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
            return self._values(t)

    @classmethod
    def param_specs(cls) -> dict[str, Param]:
        """Parameter declarations in spec order: the policy's own first, shared options last."""
        own: dict[str, Param] = {}
        shared: dict[str, Param] = {}
        for field in dataclasses.fields(cls):
            target = shared if field.name in cls.shared_options else own
            target[field.name] = field.metadata["param"]
        return own | shared

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Default value of each optional parameter."""
        return {
            f.name: f.default
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING
        }

    def params(self) -> dict[str, Any]:
        """Every parameter's value, in spec order."""
        return {name: getattr(self, name) for name in self.param_specs()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict form: `{"name": ..., param: value, ...}`, nested policies as dicts."""
        return {"name": self.name} | {k: _to_json(v) for k, v in self.params().items()}

    def __str__(self) -> str:
        defaults = self.defaults()
        parts = [
            f"{key}={_to_spec(value)}"
            for key, value in self.params().items()
            if key not in defaults or value != defaults[key]
        ]
        return f"{self.name}({','.join(parts)})"

    def __repr__(self) -> str:
        return f"lrbench.parse({str(self)!r})"


def _to_json(value: Any) -> Any:
    if isinstance(value, Policy):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


def _to_spec(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ",".join(_to_spec(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def where_phases(
    t: np.ndarray, boundaries: Sequence[int], pieces: Sequence[Callable[[np.ndarray], np.ndarray]]
) -> np.ndarray:
    """Evaluate piece i on its own clock `t - boundaries[i-1]` where it is active.

    Piece 0 runs on `t` until `boundaries[0]`, piece i from `boundaries[i-1]` on. Each piece is
    only evaluated on its own steps, so no piece sees a negative clock.
    """
    out = np.empty_like(t)
    starts = [0, *boundaries]
    ends = [*boundaries, math.inf]
    for start, end, piece in zip(starts, ends, pieces):
        mask = (t >= start) & (t < end)
        if mask.any():
            out[mask] = piece(t[mask] - start)
    return out
