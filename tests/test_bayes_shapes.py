"""The shape spaces TPE searches: every family's parameters survive the trip through a stored
policy spec (the proposer is rebuilt from the store each round)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution

import lrbench
from lrbench.search.bayes import SHAPES


def _values(distribution):
    if isinstance(distribution, FloatDistribution):
        return st.floats(distribution.low, distribution.high)
    assert isinstance(distribution, CategoricalDistribution)
    return st.sampled_from(list(distribution.choices))


@pytest.mark.parametrize("family", sorted(SHAPES))
@given(data=st.data())
def test_shape_parameters_round_trip_through_the_stored_spec(family: str, data) -> None:
    shape = SHAPES[family]
    params = {name: data.draw(_values(d), label=name) for name, d in shape.space.items()}
    total_steps = 1000
    policy = lrbench.parse(shape.spec(0.1, total_steps, params))
    read = shape.read(policy, total_steps)
    for name, distribution in shape.space.items():
        if isinstance(distribution, CategoricalDistribution):
            assert read[name] == params[name]
        elif name in ("warmup", "decay", "step", "cycle"):  # rounded to whole steps
            assert read[name] == pytest.approx(params[name], abs=1 / total_steps)
        else:
            assert read[name] == pytest.approx(params[name], rel=1e-3, abs=1e-9)
