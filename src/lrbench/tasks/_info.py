"""What a task is, as the database records it (no torch, no SQLAlchemy)."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["TaskInfo"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskInfo:
    """What a task is, for the database and for finding the nearest known tasks.

    Attributes:
        name: The task's name (a built-in name, `module:function` or `file.py:function`).
        domain, model, dataset, optimizer: What nearest-task search compares.
        batch_size: Samples per update, where known.
        horizon: The budget in optimizer updates.
        params: The task's settings.
    """

    name: str
    domain: str = ""
    model: str = ""
    dataset: str = ""
    optimizer: str = ""
    batch_size: int | None = None
    horizon: int | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def method(self) -> str:
        """How the task trains its weights: `lora` where the model is named `MODEL-lora` (as
        `hf-causal-lm` names it under LoRA), else `full`; recipes are matched on it."""
        return "lora" if self.model.endswith("-lora") else "full"
