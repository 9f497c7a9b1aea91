"""The spec grammar: what parses, and the one clear error for everything that does not."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lrbench
from lrbench import ConfigError
from lrbench.policies import policy_names


def test_nested_sequence_from_the_issue() -> None:
    spec = (
        "sequence(stages=[exp(lr=0.1,gamma=0.9),cosine(lr=0.05,min_lr=0.01,"
        "total_steps=100)],boundaries=[50])"
    )
    policy = lrbench.parse(spec)
    assert str(policy) == spec
    assert policy(50) == 0.05


def test_whitespace_quotes_trailing_commas_and_integral_floats() -> None:
    a = lrbench.parse(" wsd( lr = 1e-3 , total_steps=1e3, decay_steps=100, decay_shape='sqrt', ) ")
    b = lrbench.parse("wsd(lr=0.001,total_steps=1000,decay_steps=100,decay_shape=sqrt)")
    assert a == b and str(a) == str(b)


def test_dict_form_with_nested_policies() -> None:
    data = {
        "name": "sequence",
        "boundaries": [10],
        "stages": [{"name": "fixed", "lr": 0.1}, {"name": "exp", "lr": 0.1, "gamma": 0.5}],
    }
    assert lrbench.parse(data) == lrbench.parse(
        "sequence(stages=[fixed(lr=0.1),exp(lr=0.1,gamma=0.5)],boundaries=[10])"
    )


@pytest.mark.parametrize(
    "spec, message",
    [
        ("cosin(lr=0.1,total_steps=10)", "unknown policy 'cosin'; did you mean cosine"),
        ("cosine(lr=0.1)", "missing parameter `total_steps` for policy cosine"),
        (
            "cosine(lr=0.1,total_steps=10,warmup=3)",
            "unknown parameter `warmup` for policy cosine; did you mean",
        ),
        ("fixed(lr=0)", "`fixed.lr` must be a finite number > 0, got lr=0"),
        ("fixed(lr=-0.1)", "`fixed.lr` must be a finite number > 0, got lr=-0.1"),
        (
            "cosine(lr=0.1,min_lr=0.2,total_steps=10)",
            "`cosine.min_lr` must be <= `lr`, got min_lr=0.2, lr=0.1",
        ),
        ("triangle(min_lr=0.2,max_lr=0.1,half_cycle=10)", "`triangle.min_lr` must be <= `max_lr`"),
        (
            "linear(lr=0.1,total_steps=1000,warmup_steps=1200)",
            "`linear.warmup_steps` must be < `total_steps` (a warmup as long as the run never "
            "reaches the peak LR, so the schedule's decay would never run; Hugging Face accepts "
            "it and trains the whole run on the ramp), got warmup_steps=1200, total_steps=1000",
        ),
        (
            "multistep(lr=0.1,gamma=0.1,milestones=[30,10])",
            "`multistep.milestones` must be sorted in strictly increasing order, got "
            "milestones=[30, 10]",
        ),
        (
            "sequence(stages=[fixed(lr=1),fixed(lr=2)],boundaries=[5,3])",
            "`sequence.boundaries` must be sorted",
        ),
        (
            "sequence(stages=[fixed(lr=1),fixed(lr=2)],boundaries=[])",
            "one entry fewer than `stages`",
        ),
        ("cosine(lr=0.1,total_steps=10.5)", "`cosine.total_steps` must be an integer >= 1"),
        ("cosine(lr=1e999,total_steps=10)", "`cosine.lr` must be a finite number > 0"),
        (
            "wsd(lr=0.1,total_steps=10,decay_steps=5,decay_shape=exp)",
            "`wsd.decay_shape` must be one of linear, cosine, sqrt, got decay_shape='exp'",
        ),
        ("cosine(lr 0.1)", "at column 11: expected '=' after parameter 'lr', got '0.1'"),
        ("cosine(lr=0.1", "at column 14: expected ',' between parameters, got the end"),
        ("cosine(lr=0.1,total_steps=10))", "unexpected ')' after the policy"),
        ("fixed(lr=0.1,lr=0.2)", "parameter 'lr' given twice"),
        ("fixed(lr=$)", "at column 10: unexpected character"),
        ("", "empty policy spec"),
        ("[" * 100, "expected a policy name"),
        ("fixed(lr=" + "[" * 100, "nested deeper than 32 levels"),
        ("step(lr=0.1,gamma=0.5,step_size=" + "9" * 400 + ")", "`step.step_size` must be an"),
        ("fixed(lr=" + "9" * 5000 + ")", "at column 10: a number of 5000 characters is out of"),
        (
            "triangle_exp(min_lr=0.001,max_lr=0.1,half_cycle=10,gamma=1.5)",
            "`triangle_exp.gamma` must be <= 1 (it decays the amplitude; above 1 the wave grows",
        ),
        (
            "sin(min_lr=0.001,max_lr=0.1,half_cycle=1e-300)",
            "`sin.half_cycle` must be >= 1 step (a wave shorter than a step cannot be sampled)",
        ),
        (
            "one_cycle(max_lr=0.1,total_steps=100,div_factor=1e-300,final_div_factor=1e-300)",
            "`one_cycle.div_factor` and `final_div_factor` must leave finite LRs, got initial LR "
            "1e+299 and final LR inf",
        ),
    ],
)
def test_bad_specs_raise_one_clear_config_error(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        lrbench.parse(spec)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("metric", ["val/loss", "eval/accuracy", "true", "false", "val-loss"])
def test_metric_names_as_trainers_log_them_survive_a_round_trip(metric: str) -> None:
    policy = lrbench.parse(f"plateau(lr=0.1,metric={metric})")
    assert policy.metric == metric
    assert lrbench.parse(str(policy)) == policy


def test_bad_dicts_and_types() -> None:
    with pytest.raises(ConfigError, match="mapping with a string 'name'"):
        lrbench.from_dict({"lr": 0.1})
    with pytest.raises(ConfigError, match="string or a dict"):
        lrbench.parse(0.1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="`fixed.lr` must be a finite number > 0"):
        lrbench.from_dict({"name": "fixed", "lr": "fast"})
    with pytest.raises(ConfigError, match="`step` must be an integer >= 0"):
        lrbench.parse("fixed(lr=0.1)")(-1)
    with pytest.raises(ConfigError, match="`steps` must be finite numbers >= 0"):
        lrbench.parse("fixed(lr=0.1)").values([1, -2])


ALPHABET = "()[],=.'\"-+eE0123456789 _abcdfilmnoprstxyz"
WORDS = st.sampled_from(
    [
        *policy_names(),
        "lr",
        "min_lr",
        "total_steps",
        "warmup_steps",
        "gamma",
        "stages",
        "boundaries",
        "=",
        "(",
        ")",
        "[",
        "]",
        ",",
        "0.1",
        "1e-3",
        "-1",
        "100",
        "true",
        "'x'",
        "inf",
        "nan",
        " ",
    ]
)


@given(
    st.one_of(
        st.text(ALPHABET, max_size=60),
        st.text(max_size=30),
        st.lists(WORDS, max_size=25).map("".join),
    )
)
def test_fuzz_any_string_parses_or_raises_config_error(text: str) -> None:
    try:
        policy = lrbench.parse(text)
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    assert lrbench.parse(str(policy)) == policy


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.floats(allow_nan=True)
        | st.integers()
        | st.text(max_size=5),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(["name", "lr", "stages", "policy", "total_steps"]),
                children,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_fuzz_any_dict_builds_or_raises_config_error(data: object) -> None:
    if isinstance(data, dict):
        data.setdefault("name", "sequence")
    with contextlib.suppress(ConfigError):
        lrbench.parse(data)  # type: ignore[arg-type]
