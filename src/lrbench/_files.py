"""Files LRBench++ keeps beside its database: where they live and how they are written.

Every file another process may read while it is being written (a pretrained checkpoint, a
phase checkpoint that a forked trial loads) is written to a temporary name and renamed, so a
reader sees the whole file or none of it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write",
    "cache_dir",
    "checkpoint_path",
    "folder_name",
    "load_checkpoint",
    "save_checkpoint",
    "study_dir",
]


def cache_dir() -> Path:
    """LRBench++'s cache: `$LRBENCH_CACHE`, else `~/.cache/lrbench`."""
    return Path(os.environ.get("LRBENCH_CACHE", Path.home() / ".cache" / "lrbench"))


def study_dir(sqlite_file: Path | None, database_url: str, study: str) -> Path:
    """The directory for a study's files (pruner journal, phase checkpoints), created.

    Beside a SQLite file `x.db` it is `x.db.artifacts/<study>/`; for a server database it is
    under `cache_dir()`, keyed by the database URL (shown without its password). With workers
    on several machines, point `$LRBENCH_CACHE` at a shared file system.
    """
    if sqlite_file is not None:
        root = Path(f"{sqlite_file}.artifacts")
    else:
        root = cache_dir() / "artifacts" / hashlib.sha256(database_url.encode()).hexdigest()[:12]
    path = root / folder_name(study)
    path.mkdir(parents=True, exist_ok=True)
    return path


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def folder_name(name: str) -> str:
    """A file name for `name` that stays inside its parent: the name itself where it is
    made of letters, digits, `.`, `_` and `-` (100 at most, not starting with a dot),
    else those characters of it and a hash that keeps different names apart."""
    if _SAFE_NAME.fullmatch(name):
        return name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")[:60] or "study"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(partial)` on a temporary file beside `path`, then rename it to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    write(partial)
    partial.replace(path)


def checkpoint_path(directory: str | Path, trial_id: int, step: int) -> Path:
    """Where a trial's state after `step` updates is kept."""
    return Path(directory) / f"trial-{trial_id}-step-{step}.pt"


def save_checkpoint(path: Path, state: Any) -> None:
    """Save a torch checkpoint atomically."""
    import torch

    atomic_write(path, lambda partial: torch.save(state, partial))


def load_checkpoint(path: str | Path) -> Any:
    """Load a checkpoint written by `save_checkpoint` (tensors and plain data only)."""
    import torch

    return torch.load(path, weights_only=True)
