"""`lrbench policies`: every policy with its parameters and formula."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lrbench.cli._common import FormatOption, OutputFormat, emphasis, print_json, stdout
from lrbench.policies import Cyclic, Policy, Sequence, Warmup, get_policy_class, policy_names

HELP = """List every LR policy with its parameters and formula.

Examples:

  lrbench policies

  lrbench policies cosine wsd

  lrbench policies --format json | jq '.[].name'
"""

CATEGORIES = ("closed-form", "cyclic (LRBench)", "combinator", "adaptive")


def category(cls: type[Policy]) -> str:
    """The group a policy is listed under."""
    if cls.adaptive:
        return "adaptive"
    if issubclass(cls, (Warmup, Sequence)):
        return "combinator"
    if issubclass(cls, Cyclic):
        return "cyclic (LRBench)"
    return "closed-form"


def describe(cls: type[Policy]) -> dict[str, Any]:
    """A policy's description as plain data (the JSON output)."""
    defaults = cls.defaults()
    return {
        "name": cls.name,
        "category": category(cls),
        "formula": cls.formula,
        "same_as": cls.same_as,
        "parameters": [
            {
                "name": key,
                "kind": spec.kind,
                "required": key not in defaults,
                "default": defaults.get(key),
                "choices": list(spec.choices),
                "doc": spec.doc,
            }
            for key, spec in cls.param_specs().items()
        ],
    }


def _signature(cls: type[Policy], entry: dict[str, Any]) -> str:
    parts = []
    for p in entry["parameters"]:
        if p["name"] in cls.shared_options:
            continue
        if p["required"]:
            parts.append(emphasis(p["name"]))
        elif p["default"] is not None:
            parts.append(escape(f"{p['name']}={p['default']}"))
        else:
            parts.append(f"{p['name']}=…")
    if "warmup_steps" in cls.shared_options:
        parts.append("[dim]+ warmup_steps, warmup_init, warmup_shape[/dim]")
    elif cls.shared_options:
        parts.append(emphasis(f"+ {', '.join(cls.shared_options)}", "dim"))
    return ", ".join(parts)


def policies(
    names: Annotated[
        list[str] | None, typer.Argument(help="Policies to show (default: all).")
    ] = None,
    output: FormatOption = OutputFormat.human,
) -> None:
    """List every LR policy with its parameters and formula."""
    classes = [get_policy_class(n) for n in (names or policy_names())]
    classes.sort(key=lambda cls: CATEGORIES.index(category(cls)))
    entries = [describe(cls) for cls in classes]
    if output is OutputFormat.json:
        print_json(entries)
        return
    table = Table(title=f"{len(entries)} LR policies (bold: required)", show_lines=False)
    table.add_column("name", no_wrap=True)
    table.add_column("parameters", ratio=3)
    table.add_column("formula", ratio=3, overflow="fold")
    table.add_column("same as", ratio=2)
    for cls, entry in zip(classes, entries):
        table.add_row(
            entry["name"], Text.from_markup(_signature(cls, entry)), entry["formula"],
            entry["same_as"],
        )  # fmt: skip
    stdout.print(table)
