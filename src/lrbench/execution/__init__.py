"""Executors: where trials run. `local` (this process or a process pool) for now."""

from lrbench.execution.local import TrialJob, TrialOutcome, WorkerDied, run_local, run_trial

__all__ = ["TrialJob", "TrialOutcome", "WorkerDied", "run_local", "run_trial"]
