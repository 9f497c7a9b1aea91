"""The process's random states (Python, NumPy, torch, CUDA): taken, and put back."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["kept_random_states", "random_states", "restore_random_states"]


def random_states() -> dict[str, Any]:
    """Every global random state a training run draws from."""
    import torch

    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_states(state: Mapping[str, Any]) -> None:
    """Put back what `random_states` took."""
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def kept_random_states() -> Iterator[None]:
    """Whatever the block draws or seeds, the random states afterwards are those before it."""
    saved = random_states()
    try:
        yield
    finally:
        restore_random_states(saved)
