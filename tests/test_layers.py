"""The package layers of docs/architecture.md: imports only go down the list."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import lrbench

LAYERS = [
    "exceptions",
    "_files",
    "_random",
    "_wheels",
    "policies",
    "evaluate",
    "monitor",
    "trial",
    "integrations",
    "tasks",
    "store",
    "recommend",
    "rangetest",
    "search",
    "execution",
    "study",
    "viz",
    "cli",
]


def test_no_module_imports_a_later_layer() -> None:
    root = Path(lrbench.__file__).parent
    rank = {name: index for index, name in enumerate(LAYERS)}
    upward = []
    for path in root.rglob("*.py"):
        layer = path.relative_to(root).parts[0].removesuffix(".py")
        text = path.read_text()
        for found in re.finditer(r"^\s*(?:from|import) lrbench\.(\w+)", text, re.M):
            if layer in rank and rank.get(found.group(1), -1) > rank[layer]:
                upward.append(f"{path.relative_to(root)} imports lrbench.{found.group(1)}")
    assert upward == []


def test_the_store_and_the_tasks_import_neither_torch_nor_sklearn() -> None:
    code = (
        "import sys, lrbench.tasks, lrbench.store, lrbench.search; "
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
