"""The cases torch's and Hugging Face's own scheduler tests check, as data: each peer's
configuration and the LRs its tests expect (the figures, written here by us), against ours.

The live comparisons in `test_against_torch.py` and `test_against_hf.py` sweep random
settings; these pin the exact cases the peers themselves chose, with their tolerances.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrbench

# Hugging Face (tests/optimization): base LR 10, 2 warmup steps of 10, values to 2 decimals.
HF_CASES = [
    ("constant_with_warmup", {}, [0.0, 5.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]),
    ("linear", {}, [0.0, 5.0, 10.0, 8.75, 7.5, 6.25, 5.0, 3.75, 2.5, 1.25]),
    ("cosine", {}, [0.0, 5.0, 10.0, 9.61, 8.53, 6.91, 5.0, 3.08, 1.46, 0.38]),
    (
        "cosine_with_restarts",
        {"num_cycles": 2},
        [0.0, 5.0, 10.0, 8.53, 5.0, 1.46, 10.0, 8.53, 5.0, 1.46],
    ),
    (
        "polynomial",
        {"power": 2.0, "lr_end": 1e-7},
        [0.0, 5.0, 10.0, 7.656, 5.625, 3.906, 2.5, 1.406, 0.625, 0.156],
    ),
    ("inverse_sqrt", {}, [0.0, 5.0, 10.0, 8.165, 7.071, 6.325, 5.774, 5.345, 5.0, 4.714]),
]


@pytest.mark.parametrize(("name", "options", "expected"), HF_CASES, ids=[c[0] for c in HF_CASES])
def test_hugging_face_cases(name: str, options: dict, expected: list[float]) -> None:
    total = None if name == "inverse_sqrt" else 10
    policy = lrbench.from_hf(
        name, lr=10.0, num_warmup_steps=2, num_training_steps=total, **options
    )
    np.testing.assert_allclose(policy.values(np.arange(10)), expected, atol=1e-2)


# torch (test/optim/test_lrscheduler.py): base LR 0.05 unless said, one value per epoch.
TORCH_CASES = [
    ("step(lr=0.05,gamma=0.1,step_size=3)", [0.05] * 3 + [0.005] * 3 + [0.0005] * 3 + [5e-5]),
    (
        "multistep(lr=0.05,gamma=0.1,milestones=[2,5,9])",
        [0.05] * 2 + [0.005] * 3 + [0.0005] * 4 + [5e-5] * 3,
    ),
    ("exp(lr=0.05,gamma=0.9)", [0.05 * 0.9**epoch for epoch in range(10)]),
    (
        "cosine(lr=0.05,min_lr=1e-10,total_steps=10)",
        [1e-10 + (0.05 - 1e-10) * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(10)],
    ),
    (
        "one_cycle(max_lr=25,total_steps=10,final_div_factor=2,anneal_shape=linear)",
        [1, 13, 25, 21.5, 18, 14.5, 11, 7.5, 4, 0.5],
    ),
]


@pytest.mark.parametrize(("spec", "expected"), TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_torch_cases(spec: str, expected: list[float]) -> None:
    values = lrbench.parse(spec).values(np.arange(len(expected)))
    np.testing.assert_allclose(values, expected, rtol=1e-9, atol=1e-12)
