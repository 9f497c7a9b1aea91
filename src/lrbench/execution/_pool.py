"""Worker processes that can be stopped one at a time.

`concurrent.futures.ProcessPoolExecutor` cannot stop one hung trial without breaking the
whole pool, and its workers outlive a parent killed with SIGKILL. Here every worker is a
process with its own pipe: one trial at a time goes down it and one result comes back. A
worker past its trial's time limit is killed and replaced; a worker that dies is reported
with its trial; every worker watches its parent and exits when the parent is gone, and
ignores Ctrl-C (the parent handles it and stops the workers).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import re
import signal
import threading
import time
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

__all__ = ["Finished", "WorkerPool"]


@dataclasses.dataclass(frozen=True)
class Finished:
    """A job that left its worker: its result, the exception it raised, or how it was lost
    (`died`: the worker process ended; `timed_out`: it ran past its limit and was killed)."""

    job: Any
    result: Any = None
    error: BaseException | None = None
    died: bool = False
    timed_out: bool = False


def _exit_with_parent() -> None:
    """End this worker as soon as its parent process is gone (killed with SIGKILL too)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="lrbench-parent-watch", daemon=True).start()


def _pattern(part: re.Pattern[str] | str | None) -> str:
    """A warning filter's message or module as `filterwarnings` takes it (the filter list
    holds compiled patterns, plain strings or None)."""
    if isinstance(part, re.Pattern):
        return part.pattern
    return part or ""


def _quieting() -> tuple[dict[str, int], list[Any]]:
    """The logger levels and warning filters the calling application set, which a worker
    process would not inherit (it forks from a server started before they were set)."""
    levels = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET
    }
    # A filter on a warning class defined in a script could not be unpickled in the worker.
    filters = [f for f in warnings.filters if getattr(f[2], "__module__", "") != "__main__"]
    return levels, filters


def _serve(
    connection: Connection,
    function: Callable[[Any], Any],
    threads: int,
    logger_levels: dict[str, int],
    warning_filters: list[Any],
) -> None:
    """A worker's life: set up like its parent, then run each job sent until told to stop."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    torch.set_num_threads(threads)
    for name, level in logger_levels.items():
        logging.getLogger(name).setLevel(level)
    for action, message, category, module, line in reversed(warning_filters):
        warnings.filterwarnings(action, _pattern(message), category, _pattern(module), line)
    while True:
        try:
            job = connection.recv()
        except EOFError:  # the parent closed the pipe
            return
        if job is None:
            return
        try:
            connection.send((function(job), None))
        except Exception as error:
            connection.send((None, error))


def _context() -> Any:
    """Workers fork from a server that has imported torch once (fast start, no inherited
    threads); where there is no forkserver (Windows, macOS spawn-only setups), they spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "lrbench.execution.local", "lrbench.tasks"])
    return context


@dataclasses.dataclass
class _Worker:
    process: Any
    connection: Connection
    job: Any = None
    deadline: float = float("inf")


class WorkerPool:
    """`size` worker processes running `function(job)`, one job each at a time.

    Args:
        size: How many workers.
        function: What a worker runs on a job (importable, so a worker can load it).
        timeout: Seconds a job may run before its worker is killed (None: no limit).
    """

    def __init__(
        self, size: int, function: Callable[[Any], Any], *, timeout: float | None = None
    ) -> None:
        self.function, self.timeout = function, timeout
        self._context = _context()
        self._threads = max(1, (os.cpu_count() or 1) // size)
        self._quieting = _quieting()
        self._workers = [self._start() for _ in range(size)]

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(theirs, self.function, self._threads, *self._quieting),
            name="lrbench-worker",
            daemon=True,
        )
        process.start()
        theirs.close()
        return _Worker(process, ours)

    @property
    def idle(self) -> int:
        """Workers without a job."""
        return sum(worker.job is None for worker in self._workers)

    @property
    def busy(self) -> int:
        """Workers running a job."""
        return len(self._workers) - self.idle

    def submit(self, job: Any) -> None:
        """Hand `job` to an idle worker (there must be one)."""
        worker = next(w for w in self._workers if w.job is None)
        worker.connection.send(job)
        worker.job = job
        worker.deadline = time.monotonic() + (self.timeout or float("inf"))

    def next_finished(self) -> list[Finished]:
        """Wait until at least one running job finishes, dies or times out; those jobs."""
        while True:
            busy = [w for w in self._workers if w.job is not None]
            if not busy:
                return []
            now = time.monotonic()
            left = min(w.deadline for w in busy) - now
            ready = wait(
                [w.connection for w in busy] + [w.process.sentinel for w in busy],
                timeout=None if left == float("inf") else max(0.0, left),
            )
            finished = [self._collect(w, ready, time.monotonic()) for w in busy]
            if any(finished):
                return [f for f in finished if f is not None]

    def _collect(self, worker: _Worker, ready: list[Any], now: float) -> Finished | None:
        job = worker.job
        if worker.connection in ready:
            try:
                result, error = worker.connection.recv()
            except EOFError:  # it died while sending
                return self._replace(worker, Finished(job, died=True))
            worker.job = None
            return Finished(job, result=result, error=error)
        if worker.process.sentinel in ready:
            return self._replace(worker, Finished(job, died=True))
        if now >= worker.deadline:
            worker.process.kill()
            worker.process.join()
            return self._replace(worker, Finished(job, timed_out=True))
        return None

    def _replace(self, worker: _Worker, finished: Finished) -> Finished:
        worker.connection.close()
        worker.process.join()
        self._workers[self._workers.index(worker)] = self._start()
        return finished

    def close(self) -> None:
        """Stop every worker: idle ones are told to exit, busy ones are killed."""
        for worker in self._workers:
            try:
                if worker.job is None:
                    worker.connection.send(None)
                else:
                    worker.process.kill()
            except (BrokenPipeError, OSError):
                pass
        for worker in self._workers:
            worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.connection.close()
