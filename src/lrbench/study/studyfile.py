"""Study files: every option of `lrbench tune` in one YAML file, to commit and share.

    # study.yaml: the keys are tune's long options (`lr_min` or `lr-min`)
    task: digits-mlp
    policies: [fixed, cosine, wsd]
    lr_min: 1.0e-3
    lr_max: 3
    trials: 12
    seeds: 2
    params: {hidden: 128}
    baselines: ["cosine@2e-5"]

    lrbench tune --config study.yaml --trials 6     # a flag given overrides the file

`read_study_file` checks every key and value (a misspelt key is named with the closest valid
one) and returns the options typed as the command takes them; `study_file_text` writes options
back as a file that reads to the same options. A number may be written `1e-5` (YAML reads that
as text; it is converted here).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from lrbench.exceptions import ConfigError

__all__ = [
    "STUDY_FILE_KEYS",
    "parse_study_file",
    "read_study_file",
    "study_file_source",
    "study_file_text",
]


def _text(key: str, value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"`{key}` must be text, got {value!r}")


def _number(kind: type) -> Callable[[str, Any], Any]:
    def convert(key: str, value: Any) -> Any:
        try:
            if isinstance(value, bool):
                raise ValueError
            number = kind(value) if kind is float else int(str(value))
        except (TypeError, ValueError):
            what = "a number" if kind is float else "a whole number"
            raise ConfigError(f"`{key}` must be {what}, got {value!r}") from None
        return number

    return convert


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"`{key}` must be true or false, got {value!r}")
    return value


def _policies(key: str, value: Any) -> list[str]:
    """A list of families or templates, or one comma-separated text (as on the command line)."""
    from lrbench.search import split_policies

    if isinstance(value, str):
        return split_policies(value)
    if isinstance(value, list) and value:
        return [_text(key, item) for item in value]
    raise ConfigError(f"`{key}` must be a list or comma-separated text, got {value!r}")


def _baselines(key: str, value: Any) -> list[str]:
    """`POLICY@LR` texts (a list, or a mapping of policy to LR)."""
    if isinstance(value, Mapping):
        return [f"{policy}@{lr}" for policy, lr in value.items()]
    return [_text(key, item) for item in (value if isinstance(value, list) else [value])]


def _fraction_list(key: str, value: Any) -> str:
    """A list of fractions (`[1/16, 0.125]`) or comma-separated text, as the option's text."""
    if isinstance(value, list) and value:
        return ",".join(_text(key, item) for item in value)
    return _text(key, value)


def _params(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError(f"`{key}` must be a mapping of setting to value, got {value!r}")
    return dict(value)


#: Every key a study file may hold: `lrbench tune`'s options (not --format, --quiet, --config).
STUDY_FILE_KEYS: dict[str, Callable[[str, Any], Any]] = {
    "task": _text,
    "params": _params,
    "metric": _text,
    "mode": _text,
    "policies": _policies,
    "lr_min": _number(float),
    "lr_max": _number(float),
    "strategy": _text,
    "trials": _number(int),
    "total_steps": _number(int),
    "epochs": _number(float),
    "seeds": _number(int),
    "workers": _number(int),
    "trial_timeout": _number(float),
    "study": _text,
    "baselines": _baselines,
    "target": _number(float),
    "seed": _number(int),
    "objective": _text,
    "halving_rate": _number(int),
    "bracket": _flag,
    "max_cost": _number(float),
    "horizons": _fraction_list,
    "final_runs": _number(int),
    "branch": _flag,
    "fit_fraction": _number(float),
    "train_top": _number(int),
    "phases": _number(int),
    "keep": _number(int),
    "executor": _text,
    "ray_address": _text,
    "cpus_per_trial": _number(float),
    "gpus_per_trial": _number(float),
    "max_failures": _number(int),
    "db": _text,
}


def _key(raw: Any, source: str) -> str:
    key = str(raw).replace("-", "_")
    if key == "baseline":  # the command line's repeatable --baseline
        key = "baselines"
    if key == "param":
        key = "params"
    if key not in STUDY_FILE_KEYS:
        close = difflib.get_close_matches(key, STUDY_FILE_KEYS, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError(
            f"unknown key `{raw}` in {source}{hint}; valid keys: {', '.join(STUDY_FILE_KEYS)}"
        )
    return key


def parse_study_file(text: str, source: str = "the study file") -> dict[str, Any]:
    """The options a study file's text sets, checked and typed (keys as in `STUDY_FILE_KEYS`).

    Raises:
        ConfigError: the text is not a YAML mapping, or a key or value is invalid (the message
            names it and what would be valid).
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source} is not valid YAML{where}: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source} must be a mapping of option to value, got {data!r}")
    options: dict[str, Any] = {}
    for raw, value in data.items():
        key = _key(raw, source)
        if value is None:  # `target:` left empty means the option's default
            continue
        try:
            options[key] = STUDY_FILE_KEYS[key](key, value)
        except ConfigError as error:
            raise ConfigError(f"{source}: {error}") from None
    return options


def study_file_source(path: str | Path) -> str:
    """The text of the study file at `path` (a `ConfigError` naming it if it cannot be read)."""
    try:
        return Path(path).read_text()
    except OSError as error:
        raise ConfigError(f"cannot read the study file {path}: {error.strerror}") from None


def read_study_file(path: str | Path) -> dict[str, Any]:
    """The options the study file at `path` sets (see `parse_study_file`)."""
    return parse_study_file(study_file_source(path), source=str(path))


def study_file_text(options: Mapping[str, Any]) -> str:
    """A study file that reads back to `options` (keys in the order of `STUDY_FILE_KEYS`)."""
    ordered = {key: options[key] for key in STUDY_FILE_KEYS if options.get(key) is not None}
    unknown = set(options) - set(STUDY_FILE_KEYS)
    if unknown:
        raise ConfigError(f"not study file options: {', '.join(sorted(unknown))}")
    return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=None)
