"""Riding out a database that is away for a while: transient errors are retried with backoff.

A transaction that fails on a transient error (the connection dropped, the server restarting
or failing over, a serialization failure or deadlock, SQLite busy past its timeout) was
rolled back whole, so running it again is safe. `Retrier.run` runs it again, waiting 0.1 s
and doubling to 5 s between tries, until `retry_seconds()` have passed since the first
failure; then it raises a `DatabaseUnavailable` that says so. Other errors (no such table,
disk full, wrong password) are raised at once, and so is every error before the database
was first reached: a mistyped host fails within the connect timeout, not after the bound.

The writes that could land twice when a commit succeeds but its answer is lost are
idempotent: metric points are upserted on (trial, metric, step), and claiming and finishing
a trial check what the database holds when their guarded UPDATE matched nothing.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from lrbench._env import seconds_from_env
from lrbench.exceptions import DatabaseUnavailable, StorageError

__all__ = ["Retrier", "is_transient", "retry_seconds"]

_log = logging.getLogger("lrbench.store")
_Result = TypeVar("_Result")

#: The default bound equals a claim's grace period (6 beats of 10 s): a worker that waited
#: longer would find its trials taken over by the others anyway.
_DEFAULT_RETRY = 60.0
_FIRST_PAUSE, _LONGEST_PAUSE = 0.1, 5.0
#: SQLSTATEs of PostgreSQL errors that pass: serialization failure, deadlock, the server
#: shutting down or starting up, too many connections. Class 08 (connection) is added below.
_TRANSIENT_STATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03", "53300"})
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def retry_seconds() -> float:
    """How long a transaction is retried after a transient error: `$LRBENCH_DB_RETRY`
    seconds, else 60.

    Raises:
        ConfigError: the variable is not a positive number.
    """
    return seconds_from_env("LRBENCH_DB_RETRY", _DEFAULT_RETRY)


def is_transient(error: DBAPIError) -> bool:
    """Whether `error` may pass if the transaction is run again."""
    if error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    state = getattr(error.orig, "sqlstate", None)
    if isinstance(error.orig, sqlite3.Error):
        return any(text in str(error.orig).lower() for text in _SQLITE_BUSY)
    # A PostgreSQL error without a state is the client's own: the server cannot be reached.
    return state is None or state.startswith("08") or state in _TRANSIENT_STATES


class Retrier:
    """Runs a store's transactions, again on transient errors, within `retry_seconds()`.

    Nothing is retried until the database has once answered (`reached()`), nor after a
    retry ran out, until the database answers again: the clean-up after giving up (release
    the claims) is then tried once instead of waiting the bound a second time.

    Args:
        display_url: The database, as messages show it.
    """

    def __init__(self, display_url: str) -> None:
        self.display_url = display_url
        self.bound = retry_seconds()
        self._reached = False
        self._gave_up = False
        self._away_since: float | None = None
        self._lock = threading.Lock()

    def reached(self) -> None:
        """Note that the database answered: from now on its transient errors are retried."""
        with self._lock:
            self._reached, self._gave_up = True, False
            away_since, self._away_since = self._away_since, None
        if away_since is not None:
            away = time.monotonic() - away_since
            _log.warning("the database %s answered again after %.1f s", self.display_url, away)

    def stop(self) -> None:
        """Try the next failing transaction once, not again until the bound (a worker that
        stops cleans up without waiting); retrying resumes when the database answers."""
        with self._lock:
            self._gave_up = True

    def run(self, transaction: Callable[[], _Result]) -> _Result:
        """`transaction()`, run again on `DatabaseUnavailable` until the bound.

        Raises:
            DatabaseUnavailable: the database stayed away for the whole bound.
        """
        first_failure, pause = None, _FIRST_PAUSE
        while True:
            try:
                result = transaction()
            except DatabaseUnavailable as error:
                first_failure = self.failed(error, first_failure)
                left = first_failure + self.bound - time.monotonic()
                time.sleep(max(0.0, min(pause, left)))
                pause = min(2 * pause, _LONGEST_PAUSE)
            else:
                self.reached()
                return result

    def failed(self, error: StorageError, first_failure: float | None) -> float:
        """Note that a write failed on `error`; returns when its first failure was (now, if
        this is it), to be passed back on its next failure.

        Raises:
            StorageError: `error` is not transient.
            DatabaseUnavailable: not to be tried again: the database was never reached, a
                retry ran out since it last answered, or the bound has passed.
        """
        now = time.monotonic()
        transient = isinstance(error, DatabaseUnavailable)
        with self._lock:
            retrying = transient and self._reached and not self._gave_up
            first_of_outage = retrying and self._away_since is None
            if first_of_outage:
                self._away_since = now
        if not retrying:
            raise error
        if first_of_outage:
            _log.warning(
                "%s; waiting up to %g s for it ($LRBENCH_DB_RETRY), training goes on",
                error,
                self.bound,
            )
        if first_failure is None:
            return now
        if now - first_failure < self.bound:
            return first_failure
        self.stop()
        raise DatabaseUnavailable(
            f"{error} (still after retrying for {self.bound:g} s, $LRBENCH_DB_RETRY); what "
            "was stored is kept: once the database is back, run the same command again to "
            "resume"
        ) from None
