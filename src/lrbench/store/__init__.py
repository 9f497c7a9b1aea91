"""The LR policy database: studies, trials, metric points and published recipes.

`Store(url)` opens SQLite (default `./lrbench.db`, or `$LRBENCH_DB`) or PostgreSQL; every method
returns frozen records, never ORM rows. Schema changes are versioned Alembic migrations
(`lrbench db upgrade`).
"""

from lrbench.store._engine import DEFAULT_URL, resolve_url
from lrbench.store._export import EXPORT_FORMAT, read_export
from lrbench.store._records import (
    MAX_NAME_LENGTH,
    PolicyScore,
    RecipeRecord,
    StudyRecord,
    TaskInfo,
    TaskRecord,
    TrialRecord,
    TrialStatus,
    check_study_name,
)
from lrbench.store._store import Store

__all__ = [
    "DEFAULT_URL",
    "EXPORT_FORMAT",
    "MAX_NAME_LENGTH",
    "PolicyScore",
    "RecipeRecord",
    "Store",
    "StudyRecord",
    "TaskInfo",
    "TaskRecord",
    "TrialRecord",
    "TrialStatus",
    "check_study_name",
    "read_export",
    "resolve_url",
]
