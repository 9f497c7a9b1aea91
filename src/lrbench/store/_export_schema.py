"""The shape of a study export, checked before anything of it is stored.

An export file may come from anyone: one bad row in a shared database breaks every
teammate's listings and reports. `check_export` walks the whole file and raises one
`ConfigError` naming the first bad record and field (`trials[3].status`) and what would be
valid; a file it passes stores cleanly on either database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from lrbench._numbers import LARGEST_STORED_INTEGER, is_finite_number, is_number
from lrbench.exceptions import ConfigError
from lrbench.store._records import MAX_NAME_LENGTH, TrialStatus, check_study_name

__all__ = ["check_export"]

_STUDY_STATUSES = ("running", "complete", "interrupted")
_Check = Callable[[str, Any], None]


def _fail(where: str, rule: str, value: Any) -> ConfigError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else f"{shown[:57]}..."
    return ConfigError(f"malformed study export: {where} must be {rule}, got {shown}")


def _text(most: int = MAX_NAME_LENGTH, *, empty: bool = True) -> _Check:
    def check(where: str, value: Any) -> None:
        if not isinstance(value, str) or len(value) > most or (not empty and not value):
            rule = f"{'a' if empty else 'a non-empty'} string of at most {most} characters"
            raise _fail(where, rule, value)

    return check


def _long_text(where: str, value: Any) -> None:
    if not isinstance(value, str):
        raise _fail(where, "a string", value)


def _whole(least: int = 0, *, optional: bool = False) -> _Check:
    def check(where: str, value: Any) -> None:
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where, f"a whole number{' or null' if optional else ''}", value)
        if not least <= value <= LARGEST_STORED_INTEGER:
            raise _fail(where, f"a whole number in {least}..2^63-1", value)

    return check


def _number(*, positive: bool = False) -> _Check:
    def check(where: str, value: Any) -> None:
        if not is_finite_number(value) or value < 0 or (positive and value == 0):
            raise _fail(where, f"a finite number {'> 0' if positive else '>= 0'}", value)

    return check


def _choice(options: tuple[str, ...]) -> _Check:
    def check(where: str, value: Any) -> None:
        if value not in options:
            raise _fail(where, f"one of {', '.join(options)}", value)

    return check


def _mapping(where: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise _fail(where, "an object with string keys", value)


def _metrics(where: str, value: Any) -> None:
    _mapping(where, value)
    for name, number in value.items():
        _text(empty=False)(f"{where} key", name)
        if not is_number(number):
            raise _fail(f"{where}.{name}", "a number", number)
        if not is_finite_number(number):
            raise _fail(f"{where}.{name}", "a finite number", number)


def _time(where: str, value: Any) -> None:
    if value is None:
        return
    try:
        dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise _fail(where, "an ISO 8601 time or null", value) from None


def _optional_text(where: str, value: Any) -> None:
    if value is not None:
        _long_text(where, value)


def _check_name(where: str, value: Any) -> None:
    try:
        check_study_name(value, where)
    except ConfigError as error:
        raise ConfigError(f"malformed study export: {error}") from None


_STUDY: dict[str, _Check] = {
    "name": _check_name,
    "objective": _text(50, empty=False),
    "metric": _text(empty=False),
    "mode": _choice(("min", "max")),
    "strategy": _text(50, empty=False),
    "status": _choice(_STUDY_STATUSES),
    "config": _mapping,
}
_TASK: dict[str, _Check] = {
    "name": _text(empty=False),
    "domain": _text(),
    "model": _text(),
    "dataset": _text(),
    "optimizer": _text(),
    "batch_size": _whole(1, optional=True),
    "horizon": _whole(1, optional=True),
    "params": _mapping,
}
_TRIAL: dict[str, _Check] = {
    "number": _whole(),
    "policy": _text(10_000, empty=False),
    "family": _text(100, empty=False),
    "lr": _number(),
    "seed": _whole(),
    "total_steps": _whole(1),
    "status": _choice(tuple(status.value for status in TrialStatus)),
    "attempt": _whole(),
    "cost_steps": _whole(),
    "cost_samples": _whole(),
    "cost_tokens": _whole(),
    "cost_seconds": _number(),
    "metrics": _metrics,
    "error": _optional_text,
    "started_at": _time,
    "finished_at": _time,
}


def _record(where: str, record: Any, fields: Mapping[str, _Check], optional: set[str]) -> None:
    """Check one object: every field known, every required one there, each valid."""
    _mapping(where, record)
    unknown = sorted(set(record) - set(fields) - optional)
    if unknown:
        raise ConfigError(
            f"malformed study export: {where} has the unknown field {unknown[0]!r} (its "
            f"fields: {', '.join([*fields, *sorted(optional)])})"
        )
    for field, check in fields.items():
        if field not in record:
            raise ConfigError(f"malformed study export: {where} lacks the field {field!r}")
        check(f"{where}.{field}", record[field])


def _points(where: str, points: Any) -> None:
    if not isinstance(points, list):
        raise _fail(where, "a list of [step, metric, value]", points)
    seen: set[tuple[int, str]] = set()
    for index, point in enumerate(points):
        at = f"{where}[{index}]"
        if not isinstance(point, list) or len(point) != 3:
            raise _fail(at, "[step, metric, value]", point)
        step, name, value = point
        _whole()(f"{at} step", step)
        _text(empty=False)(f"{at} metric", name)
        _metrics(at, {"value": value})
        if (step, name) in seen:
            raise _fail(at, f"the only value of {name!r} at step {step}", point)
        seen.add((step, name))


def check_export(data: Any) -> None:
    """Check a whole study export (format already checked).

    Raises:
        ConfigError: naming the first bad record and field, and what would be valid.
    """
    for part in ("study", "task", "trials"):
        if part not in data:
            raise ConfigError(f"malformed study export: it lacks {part!r}")
    _record("study", data["study"], _STUDY, set())
    _record("task", data["task"], _TASK, set())
    trials = data["trials"]
    if not isinstance(trials, list):
        raise _fail("trials", "a list", trials)
    numbers: set[int] = set()
    for index, trial in enumerate(trials):
        where = f"trials[{index}]"
        _record(where, trial, _TRIAL, {"points"})
        if trial["number"] in numbers:
            raise _fail(f"{where}.number", "unique in the study", trial["number"])
        numbers.add(trial["number"])
        _points(f"{where}.points", trial.get("points", []))
