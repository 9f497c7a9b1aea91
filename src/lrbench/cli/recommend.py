"""`lrbench recommend`: a starting LR and policy before any tuning, with its evidence."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from lrbench.cli._common import (
    DbOption,
    FormatOption,
    OutputFormat,
    emphasis,
    parse_params,
    print_json,
    recipes_store,
    stdout,
)
from lrbench.exceptions import ConfigError

if TYPE_CHECKING:
    from lrbench.store import Store, TaskInfo

HELP = """Where to start: a policy, a peak LR and a range to search, before any tuning.

The evidence, strongest first: the store's best results for the task (or the nearest stored
task, moved to your batch size), the published recipes that fit (LoRA recipes for LoRA), and
rules from the literature (fine-tuning LRs for Adam on transformers, below the pre-training LR;
DeepSeek's compute rule for pre-training; linear scaling for SGD). Give a task by name, or
describe one.

Examples:

  lrbench recommend --task digits-mlp

  lrbench recommend --task hf-causal-lm --param lora_r=0 --format json

  lrbench recommend --model llama-7b --optimizer adamw --lora --batch 128

  lrbench recommend --domain pretraining --params 135M --tokens 2B --batch 256
"""

_SUFFIXES = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def _count(text: str | None, option: str) -> float | None:
    """`135M`, `7B`, `2e9`, `1.5k` as a number."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*([0-9.]+(?:e[+-]?\d+)?)\s*([kmbgt]?)\s*", text.lower())
    if match is None:
        raise ConfigError(f"`{option}` must be a count like 135M, 7B or 2e9, got {text!r}")
    return float(match[1]) * _SUFFIXES[match[2]]


def _task_info(
    store: Store, name: str | None, params: dict[str, Any], described: Mapping[str, Any]
) -> TaskInfo:
    """The stored task called `name`, else the built-in's description, with `described` over it."""
    from lrbench.store import TaskInfo

    info: TaskInfo = TaskInfo(name=name or "described")
    if name is not None:
        known = store.known_task(name) if not params else None
        if known is not None:
            info = known  # a stored task record is a TaskInfo
        else:
            from lrbench.tasks import load_task

            info = load_task(name, params).info(0)
    given: dict[str, Any] = {k: v for k, v in described.items() if v is not None}
    return dataclasses.replace(info, **given)


def recommend_command(
    task: Annotated[
        str | None,
        typer.Option("--task", "-t", help="A stored or built-in task, or file.py:function."),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Task setting key=value (repeatable).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name, e.g. llama-7b.")] = None,
    domain: Annotated[
        str | None,
        typer.Option(
            help="llm-finetune, text-classification, pretraining, ... \\[llm-finetune "
            "with --model]."
        ),
    ] = None,
    optimizer: Annotated[str | None, typer.Option(help="adamw, adam or sgd.")] = None,
    lora: Annotated[
        bool | None, typer.Option("--lora/--full", help="Fine-tune through a LoRA adapter.")
    ] = None,
    batch: Annotated[int | None, typer.Option(min=1, help="Samples per update.")] = None,
    params: Annotated[
        str | None, typer.Option("--params", help="Model parameters, e.g. 135M or 7B.")
    ] = None,
    tokens: Annotated[
        str | None, typer.Option(help="Training tokens, e.g. 2B (pre-training rules).")
    ] = None,
    metric: Annotated[str | None, typer.Option(help="Count only studies of this metric.")] = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.human,
) -> None:
    """Recommend a starting LR and policy."""
    from lrbench.recommend import recommend

    if task is None and model is None and domain is None and params is None:
        raise ConfigError("give `--task`, or describe the task with --model, --domain or --params")
    store = recipes_store(db)
    name = model + ("-lora" if lora else "") if model else None
    described = {
        "model": name,
        "domain": domain or ("llm-finetune" if model and task is None else None),
        "optimizer": optimizer or ("adamw" if task is None else None),
        "batch_size": batch,
    }
    info = _task_info(store, task, parse_params(param), described)
    if lora is not None and model is None:  # --lora on a named task: mark its model
        base = info.model.removesuffix("-lora")
        info = dataclasses.replace(info, model=base + "-lora" if lora else base)
    advice = recommend(
        store,
        info,
        metric=metric,
        model_params=_count(params, "--params"),
        tokens=_count(tokens, "--tokens"),
    )
    if output is OutputFormat.json:
        print_json({"task": info.name, **advice.to_json()})
        return
    stdout.print(
        f"Start with {emphasis(advice.family)} at LR {emphasis(f'{advice.lr:.3g}')}; search "
        f"{advice.lr_min:.3g} .. {advice.lr_max:.3g} (from {escape(advice.basis)}).",
        markup=True,
    )
    table = Table(title="evidence, strongest first")
    for column in ("kind", "LR", "range", "policy", "source", "note"):
        table.add_column(column, overflow="fold")
    for line in advice.evidence:
        span = (
            f"{line.low:.3g}..{line.high:.3g}"
            if line.low and line.high
            else (f"<= {line.high:.3g}" if line.high else "")
        )
        lr = "" if line.lr is None else f"{line.lr:.3g}"
        table.add_row(line.kind, lr, span, line.family, line.source, line.note)
    stdout.print(table)
    where = f"--task {task}" if task else "--task YOUR_TASK"
    stdout.print(
        f"Then: lrbench tune {where} --lr-min {advice.lr_min:.3g} --lr-max {advice.lr_max:.3g}",
        markup=False,
        highlight=False,
    )
