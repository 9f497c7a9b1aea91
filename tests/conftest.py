"""Shared test helpers."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

# Nothing is downloaded: models load from local directories and wheels.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-9) -> None:
    """Equal to `rtol` relative (and 1e-15 absolute near zero), with the first bad step shown."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    bad = ~np.isclose(actual, expected, rtol=rtol, atol=1e-15)
    if bad.any():
        step = int(np.argmax(bad))
        raise AssertionError(
            f"first mismatch at step {step}: got {actual[step]!r}, expected {expected[step]!r} "
            f"({int(bad.sum())} of {bad.size} steps differ)"
        )


@pytest.fixture(autouse=True, scope="session")
def _checkpoint_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep charlm's pretrained checkpoint in the session's temporary folder."""
    os.environ.setdefault("LRBENCH_CACHE", str(tmp_path_factory.mktemp("lrbench-cache")))
