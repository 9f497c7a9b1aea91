"""Study files: every option of `lrbench tune` in a YAML file, checked, round-tripped."""

from __future__ import annotations

import pytest

from lrbench import ConfigError
from lrbench.study.studyfile import STUDY_FILE_KEYS, parse_study_file, study_file_text

OPTIONS = {
    "task": "hf-causal-lm",
    "params": {"lora_r": 8, "max_length": 64, "data": "alpaca.json"},
    "metric": "eval_loss",
    "mode": "min",
    "policies": ["fixed", "cosine", "poly(lr={lr},total_steps={total_steps},power=3)"],
    "lr_min": 1e-5,
    "lr_max": 0.01,
    "strategy": "bayes",
    "trials": 8,
    "epochs": 3.0,
    "seeds": 2,
    "workers": 2,
    "study": "smollm2-alpaca",
    "baselines": ["cosine@2e-4"],
    "objective": "cost",
    "target": 2.5,
    "halving_rate": 4,
    "bracket": True,
    "executor": "ray",
    "ray_address": "auto",
    "gpus_per_trial": 1.0,
    "db": "postgresql+psycopg://me@dbhost/lrbench",
}


def test_a_study_file_reads_back_to_the_options_it_was_written_from() -> None:
    assert set(OPTIONS) <= set(STUDY_FILE_KEYS)
    assert parse_study_file(study_file_text(OPTIONS)) == OPTIONS


def test_the_command_line_spellings_are_accepted() -> None:
    text = """
task: digits-mlp
lr-min: 1e-5          # YAML reads this as text; it is a number here
total-steps: 200
policies: fixed,cosine,poly(lr={lr},total_steps={total_steps},power=3)
baseline: step@0.1
"""
    assert parse_study_file(text) == {
        "task": "digits-mlp",
        "lr_min": 1e-5,
        "total_steps": 200,
        "policies": ["fixed", "cosine", "poly(lr={lr},total_steps={total_steps},power=3)"],
        "baselines": ["step@0.1"],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr_mni: 0.1", r"unknown key `lr_mni` in s.yaml \(did you mean `lr_min`\?\); valid"),
        ("trials: many", r"s.yaml: `trials` must be a whole number, got 'many'"),
        ("trials: 2.5", r"`trials` must be a whole number, got 2.5"),
        ("lr_max: [1]", r"`lr_max` must be a number, got \[1\]"),
        ("bracket: 1", r"`bracket` must be true or false, got 1"),
        ("params: [a, b]", r"`params` must be a mapping of setting to value"),
        ("- task", r"s.yaml must be a mapping of option to value"),
        ("task: [unclosed", r"s.yaml is not valid YAML at line 1"),
    ],
)
def test_bad_study_files_name_the_key_and_what_is_valid(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_study_file(text, source="s.yaml")
