"""Executors: where trials run. `local` (this process or a process pool) and `raytune`.

Executors get jobs only (`TrialJob`: what to run, and the objective's stop and fork rules)
and give back outcomes; they import nothing of the study layer.
"""

from lrbench.execution._jobs import StopRule, TrialJob, TrialOutcome, status_of
from lrbench.execution.halving import Halving
from lrbench.execution.local import run_local, run_trial

__all__ = [
    "Halving",
    "StopRule",
    "TrialJob",
    "TrialOutcome",
    "run_local",
    "run_trial",
    "status_of",
]
