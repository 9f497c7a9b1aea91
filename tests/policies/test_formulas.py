"""Every policy against an independent formula, at boundaries, and as a value (round-trips)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.conftest import assert_close

import lrbench
from lrbench.policies import LRBENCH_NAMES, get_policy_class, policy_names


def lrbench_reference(
    name: str, t: int, k0: float, k1: float, gamma: float, p: float, length: float
) -> float:
    """LRBench's published formulas, one step at a time, in its own trigonometric form."""
    tri = (2 / math.pi) * abs(math.asin(math.sin(math.pi * t / (2 * length))))
    dtri = (2 / math.pi) * abs(math.asin(math.sin(math.pi * (t + length) / (2 * length))))
    sin = abs(math.sin(math.pi * t / (2 * length)))
    dsin = abs(math.sin(math.pi * (t + length) / (2 * length)))
    cos = 0.5 * (1 + math.cos(math.pi * t / length))
    upcos = 0.5 * (1 + math.cos(math.pi * (t / length + 1)))
    saw = -t / length - math.floor(-t / length)
    waves = {
        "TRI": (tri, t / (2 * length)),
        "DTRI": (dtri, (t + length) / (2 * length)),
        "SIN": (sin, t / (2 * length)),
        "DSIN": (dsin, (t + length) / (2 * length)),
        "COS": (cos, (t + length) / (2 * length)),
        "UPCOS": (upcos, t / (2 * length)),
        "RSW": (saw, t / length),
        "SINRSW": (math.sin(math.pi / 2 * saw), t / length),
        "COSRSW": (0.5 * (1 - math.cos(math.pi * saw)), t / length),
    }
    if name in waves:
        return (k1 - k0) * waves[name][0] + k0
    if name.endswith("2") and name[:-1] in waves:
        wave, cycle = waves[name[:-1]]
        return (k1 - k0) * wave / 2 ** math.floor(cycle) + k0
    if name.endswith("EXP") and name[:-3] in waves:
        return (k1 - k0) * waves[name[:-3]][0] * gamma**t + k0
    return {
        "FIX": lambda: k0,
        "STEP": lambda: k0 * gamma ** math.floor(t / length),
        "EXP": lambda: k0 * gamma**t,
        "INV": lambda: k0 * (1 + gamma * t) ** (-p),
        "POLY": lambda: (k1 - k0) * (1 - t / length) ** p + k0,
        "SIG": lambda: k0 / (1 + math.exp(-gamma * (t - length))),
    }[name]()


CYCLIC = [
    n for n in LRBENCH_NAMES if n not in ("FIX", "STEP", "NSTEP", "EXP", "INV", "POLY", "SIG")
]


def test_all_34_lrbench_policies_have_canonical_names() -> None:
    assert len(LRBENCH_NAMES) == 34
    assert set(LRBENCH_NAMES.values()) <= set(policy_names())


@pytest.mark.parametrize("lb_name", CYCLIC)
@given(
    k0=st.floats(0, 0.05),
    k1=st.floats(0.06, 1.0),
    gamma=st.floats(0.99, 0.9999),
    half=st.integers(1, 80),
)
def test_cyclic_policies_match_lrbench_formulas(
    lb_name: str, k0: float, k1: float, gamma: float, half: int
) -> None:
    config = {"lrPolicy": lb_name, "k0": k0, "k1": k1, "l": half}
    if lb_name.endswith("EXP"):
        config["gamma"] = gamma
    policy = lrbench.from_lrbench(config)
    steps = np.arange(8 * half + 3)
    expected = [lrbench_reference(lb_name, int(t), k0, k1, gamma, 0, half) for t in steps]
    # LRBench's asin(sin(x)) form carries ~1e-15 absolute error; compare at that scale.
    np.testing.assert_allclose(policy.values(steps), expected, rtol=1e-9, atol=1e-12)


@given(
    k0=st.floats(1e-4, 1.0),
    gamma=st.floats(0.9, 0.999),
    p=st.floats(0.5, 3),
    length=st.integers(1, 200),
)
def test_classic_lrbench_policies_match_formulas(
    k0: float, gamma: float, p: float, length: int
) -> None:
    steps = np.arange(length + 1)
    for name, config in {
        "FIX": {"k0": k0},
        "STEP": {"k0": k0, "gamma": gamma, "l": length},
        "EXP": {"k0": k0, "gamma": gamma},
        "INV": {"k0": k0, "gamma": gamma, "p": p},
        "POLY": {"k0": k0 / 10, "k1": k0, "p": p, "l": length},
        "SIG": {"k0": k0, "gamma": gamma, "l": length},
    }.items():
        policy = lrbench.from_lrbench({"lrPolicy": name, **config})
        expected = [
            lrbench_reference(
                name, int(t), config.get("k0", 0), config.get("k1", 0), gamma, p, length
            )
            for t in steps
        ]
        assert_close(policy.values(steps), np.array(expected))


def test_nstep_and_paper_style_poly() -> None:
    nstep = lrbench.from_lrbench({"lrPolicy": "NSTEP", "k0": 0.05, "gamma": 0.1, "l": [150, 180]})
    assert nstep.values([0, 149, 150, 179, 180]).tolist() == pytest.approx(
        [0.05, 0.05, 0.005, 0.005, 0.0005]
    )
    poly = lrbench.from_lrbench({"lrPolicy": "POLY", "k0": 0.1, "p": 2, "l": 100})
    assert poly(50) == pytest.approx(0.1 * 0.25)


@pytest.mark.parametrize(
    "shape,ramp",
    [
        ("linear", lambda q: q),
        ("cosine", lambda q: (1 - math.cos(math.pi * q)) / 2),
        ("sqrt", lambda q: 1 - math.sqrt(1 - q)),
    ],
)
@given(
    lr=st.floats(1e-4, 1),
    init=st.floats(0, 0.5),
    warmup=st.integers(1, 100),
    extra=st.integers(1, 200),
)
def test_warmup_boundaries(
    shape: str, ramp, lr: float, init: float, warmup: int, extra: int
) -> None:
    total = warmup + extra
    policy = lrbench.parse(
        f"cosine(lr={lr!r},min_lr={lr / 10!r},total_steps={total},"
        f"warmup_steps={warmup},warmup_init={init * lr!r},"
        f"warmup_shape={shape})"
    )
    assert policy(0) == pytest.approx(init * lr, rel=1e-12, abs=0)
    assert policy(warmup - 1) == pytest.approx(
        init * lr + (lr - init * lr) * ramp((warmup - 1) / warmup), rel=1e-12
    )
    assert policy(warmup) == pytest.approx(lr, rel=1e-12)
    assert policy(total) == pytest.approx(lr / 10, rel=1e-12)
    assert policy(total + 10_000) == pytest.approx(lr / 10, rel=1e-12)
    assert_close(
        policy.values(np.arange(warmup, total + 1)),
        lr / 10 + (lr - lr / 10) * 0.5 * (1 + np.cos(np.pi * np.arange(extra + 1) / extra)),
    )


def test_sequence_runs_each_stage_on_its_own_clock() -> None:
    policy = lrbench.parse(
        "sequence(stages=[exp(lr=0.1,gamma=0.9),"
        "cosine(lr=0.05,min_lr=0.01,total_steps=100)],boundaries=[50])"
    )
    steps = np.arange(200)
    expected = np.where(
        steps < 50,
        0.1 * 0.9**steps,
        0.01 + 0.04 * 0.5 * (1 + np.cos(np.pi * np.minimum(steps - 50, 100) / 100)),
    )
    assert_close(policy.values(steps), expected)


def test_one_cycle_defaults_follow_the_paper() -> None:
    policy = lrbench.parse("one_cycle(max_lr=0.1,total_steps=1000)")
    assert policy(0) == pytest.approx(0.004)
    assert policy(299) == pytest.approx(0.1)
    assert policy(999) == pytest.approx(0.004 / 1e4)


def test_inverse_sqrt_and_sigmoid_closed_forms() -> None:
    steps = np.arange(0, 5000, 7)
    policy = lrbench.parse("inverse_sqrt(lr=0.01,warmup_steps=100)")
    after = steps[steps >= 100]
    assert_close(policy.values(after), 0.01 / np.sqrt(after / 100))
    sig = lrbench.parse("sigmoid(lr=0.1,gamma=-0.01,center=2000)")
    assert_close(sig.values(steps), 0.1 / (1 + np.exp(0.01 * (steps - 2000))))


# -- Every registered policy, generically -------------------------------------------------


@st.composite
def any_policy(draw: st.DrawFn, name: str | None = None, depth: int = 0) -> lrbench.Policy:
    """A valid policy with drawn parameters (invalid combinations are rejected by assume)."""
    name = name or draw(st.sampled_from(policy_names()))
    cls = get_policy_class(name)
    defaults = cls.defaults()
    kwargs: dict[str, object] = {}
    for key, spec in cls.param_specs().items():
        if key in defaults and draw(st.booleans()):
            continue
        kind = spec.kind
        simple = st.sampled_from(["fixed", "cosine", "exp", "triangle"])
        value = {
            "lr": st.floats(0.05, 1.0),
            "rate": st.floats(0, 0.04),
            "positive": st.floats(1.0, 50.0) if key not in ("gamma",) else st.floats(0.9, 0.999),
            "number": st.floats(-100, 100),
            "fraction": st.floats(0.05, 0.45),
            "steps": st.integers(0, 20),
            "positive_steps": st.integers(30, 400),
            "step_list": st.lists(st.integers(1, 300), min_size=1, max_size=3, unique=True).map(
                sorted
            ),
            "choice": st.sampled_from(spec.choices),
            "bool": st.booleans(),
            "name": st.sampled_from(["loss", "val_loss", "eval/acc"]),
            "policy": any_policy(draw(simple), depth + 1) if depth < 2 else st.nothing(),
            "policy_list": st.lists(any_policy(draw(simple), depth + 1), min_size=1, max_size=3)
            if depth < 2
            else st.nothing(),
        }[kind]
        kwargs[key] = draw(value)
    if name == "sequence":
        stages = kwargs["stages"]
        kwargs["boundaries"] = [50 * (i + 1) for i in range(len(stages) - 1)]  # type: ignore
    try:
        return cls(**kwargs)
    except lrbench.ConfigError:
        assume(False)
        raise


@given(policy=any_policy())
def test_every_policy_round_trips_through_text_and_dict(policy: lrbench.Policy) -> None:
    assert lrbench.parse(str(policy)) == policy
    data = json.loads(json.dumps(policy.to_dict()))
    assert lrbench.from_dict(data) == policy
    assert hash(lrbench.parse(str(policy))) == hash(policy)


@given(policy=any_policy(), step=st.integers(0, 10_000))
def test_call_equals_values_and_is_finite_and_positive(policy: lrbench.Policy, step: int) -> None:
    values = policy.values(np.arange(step, step + 50))
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    assert policy(step) == values[0]


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in policy_names()
        if n in LRBENCH_NAMES.values() and get_policy_class(n).param_specs().get("max_lr")
    ],
)
@given(data=st.data())
def test_cyclic_policies_stay_within_bounds(name: str, data: st.DataObject) -> None:
    policy = data.draw(any_policy(name))
    values = policy.values(np.arange(2000))
    assert np.all(values >= policy.min_lr - 1e-15)  # type: ignore[attr-defined]
    assert np.all(values <= policy.max_lr + 1e-15)  # type: ignore[attr-defined]


def test_every_policy_has_a_formula_and_documentation() -> None:
    for name in policy_names():
        cls = get_policy_class(name)
        assert cls.formula, name
        assert cls.__doc__ and "Formula" in cls.__doc__, name
        for key, spec in cls.param_specs().items():
            assert spec.doc, (name, key)
