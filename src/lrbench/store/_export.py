"""Moving a study between databases: export to JSON-ready data, import it back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lrbench.exceptions import ConfigError
from lrbench.store._export_schema import check_export
from lrbench.store._mapping import study_record
from lrbench.store._models import MetricPointRow, StudyRow, TrialRow
from lrbench.store._records import StudyRecord, TaskInfo, check_study_name

if TYPE_CHECKING:
    from lrbench.store._store import Store

__all__ = ["EXPORT_FORMAT", "export_study", "import_study", "read_export"]

EXPORT_FORMAT = "lrbench-study/1"
_STUDY_FIELDS = ("name", "objective", "metric", "mode", "strategy", "status", "config")


def export_study(store: Store, name: str) -> dict[str, Any]:
    """A study with its task, trials and metric points, as JSON-ready data."""
    study = store.require_study(name)
    trials = []
    for trial in store.trials(study.id):
        data = dataclasses.asdict(trial)
        data["status"] = trial.status.value
        for key in ("started_at", "finished_at"):
            data[key] = data[key].isoformat() if data[key] else None
        del data["id"], data["study_id"]
        del data["worker"], data["heartbeat_at"]  # a claim means nothing in another database
        data["points"] = [list(p) for p in store.points(trial.id)]
        trials.append(data)
    task = dataclasses.asdict(study.task)
    del task["id"]
    return {
        "format": EXPORT_FORMAT,
        "study": {field: getattr(study, field) for field in _STUDY_FIELDS},
        "task": task,
        "trials": trials,
    }


def import_study(store: Store, data: Mapping[str, Any], *, name: str | None = None) -> StudyRecord:
    """Store an exported study (under `name` if given); refuses to overwrite one."""
    if not isinstance(data, Mapping) or data.get("format") != EXPORT_FORMAT:
        raise ConfigError(f"not an LRBench++ study export (expected format {EXPORT_FORMAT})")
    check_export(data)
    try:
        meta = dict(data["study"])
        study_name = check_study_name(name or meta["name"], "--name" if name else "name")
        if store.study(study_name) is not None:
            raise ConfigError(
                f"a study named {study_name!r} already exists; import it under another "
                "name with --name"
            )
        task = store.task(TaskInfo(**data["task"]))
        trial_rows = []
        for trial in data["trials"]:
            fields = {k: v for k, v in trial.items() if k != "points"}
            for key in ("started_at", "finished_at"):
                fields[key] = dt.datetime.fromisoformat(fields[key]) if fields[key] else None
            trial_rows.append((fields, trial["points"]))
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"malformed study export: {error!r}") from None
    with store.session() as session:
        study = StudyRow(task_id=task.id, **{field: meta[field] for field in _STUDY_FIELDS[1:]})
        study.name = study_name
        session.add(study)
        session.flush()
        for fields, points in trial_rows:
            row = TrialRow(study_id=study.id, **fields)
            session.add(row)
            session.flush()
            if points:
                session.execute(
                    sa.insert(MetricPointRow),
                    [{"trial_id": row.id, "step": s, "name": n, "value": v} for s, n, v in points],
                )
        return study_record(study)


def read_export(path: Path) -> dict[str, Any]:
    """Load a study export file, with a clear error for a missing or broken file."""
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"no such file: {str(path)!r}") from None
    except IsADirectoryError:
        raise ConfigError(f"{str(path)!r} is a directory, not a study export file") from None
    except OSError as error:
        raise ConfigError(f"cannot read {str(path)!r}: {error.strerror}") from None
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise ConfigError(f"{str(path)!r} is not a JSON study export: {error}") from None
