"""Row-to-record mapping, written once: a record's fields are read off the row by name."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, TypeVar

from lrbench.store._models import StudyRow, TaskRow, TrialRow
from lrbench.store._records import StudyRecord, TaskRecord, TrialRecord, TrialStatus

__all__ = ["study_record", "task_record", "to_record", "trial_record"]

R = TypeVar("R")


def to_record(row: Any, record: type[R], **overrides: Any) -> R:
    """The frozen `record` whose fields are the row's attributes of the same names, JSON
    columns copied (NULL read as empty), datetimes in UTC, with `overrides` for fields that
    need converting."""
    values = dict(overrides)
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        if field.name not in values:
            value = getattr(row, field.name)
            json_column = field.default_factory is dict or str(field.type).startswith("dict")
            values[field.name] = dict(value or {}) if json_column else _aware(value)
    return record(**values)


def _aware(value: Any) -> Any:
    """Datetimes in UTC with their zone: SQLite hands stored ones back without it."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def task_record(row: TaskRow) -> TaskRecord:
    """A stored task."""
    return to_record(row, TaskRecord)


def study_record(row: StudyRow) -> StudyRecord:
    """A stored study, with its task."""
    return to_record(row, StudyRecord, task=task_record(row.task))


def trial_record(row: TrialRow) -> TrialRecord:
    """A stored trial."""
    return to_record(row, TrialRecord, status=TrialStatus(row.status))
