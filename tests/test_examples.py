"""The examples in examples/ run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_torch_loop_example_trains_to_a_good_accuracy() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "torch_loop.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.rsplit("test accuracy: ", 1)[1])
    assert accuracy > 0.9
