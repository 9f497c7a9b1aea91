"""Shared studies: workers splitting one study, faults injected, concurrent writers.

    python bench/workers_bench.py [--part split|faults|outage|writers] [--quick]

1. split: 1, 2 and 4 `lrbench tune` processes started together on one 16-trial study
   (PostgreSQL, and SQLite beside it): trials trained (must be 16: attempts summed), metric
   points written twice (must be 0), wall time against one process. Two tasks: a trial
   that sleeps (0.1 s a step, 20 steps: workers on separate machines, where the split is
   the whole gain) and digits-mlp (CPU-bound: these 2 cores cap the gain at 2x).
2. faults: 20 kill -9 of a random worker at a random moment of a study run by 2 processes,
   each restarted at once (SQLite and PostgreSQL): configurations ended exactly once, none
   left running, orphaned worker processes, points lost, SQLite's `pragma integrity_check`.
3. outage: PostgreSQL stopped for 10 s in the middle of a study run by 2 processes (default
   heartbeat and retry bound): the same figures, how long each worker waited, the study's
   wall time against the same study undisturbed.
4. writers: 4 processes writing metric points at once, as 4 workers' trials do (each under
   its claim): points/s in all and errors, SQLite and PostgreSQL; one writer alone beside them.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from lrbench.store import Store, TaskInfo, TrialStatus
from store_bench import POSTGRES_URL, reset_postgres  # one way to empty the database

SLEEPY_TASK = '''
import time

import torch


def train(trial):
    """A quadratic that sleeps between steps: the cost of a trial is elsewhere."""
    w = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([w], lr=0.0)
    monitor = trial.monitor(optimizer)
    for step in range(trial.total_steps):
        loss = ((w - 3.0) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        monitor.step(loss=loss)
        trial.report(step + 1, score=-loss.item())
        time.sleep(float(trial.params.get("sleep", 0.1)))
    return {"score": -loss.item()}
'''
ENV = {**os.environ, "LRBENCH_HEARTBEAT": "1", "TQDM_DISABLE": "1"}


def databases(folder: Path, name: str) -> list[tuple[str, str]]:
    """(label, fresh URL) of each backend reachable."""
    found = [("SQLite", f"sqlite:///{folder / name}.db")]
    if reset_postgres():
        found.append(("PostgreSQL", POSTGRES_URL))
    return found


def tune_command(task: str, db: str, trials: int, steps: int, *extra: str) -> list[str]:
    """`lrbench tune` on one shared study."""
    metric = ["--metric", "score", "--mode", "max"] if task.endswith(":train") else []
    return [
        sys.executable, "-c", "from lrbench.cli.main import main; main()", "tune",
        "--task", task, *metric, "--policies", "fixed", "--lr-min", "0.001", "--lr-max", "0.5",
        "--trials", str(trials), "--total-steps", str(steps), "--study", "shared",
        "--db", db, "--quiet", "--format", "json", *extra,
    ]  # fmt: skip


def audit(db: str) -> dict[str, int]:
    """What the shared study holds: trials, trainings (attempts), unfinished, and the points
    of `score` a complete trial lacks (the sleeping task reports it at every step; doubling
    a point is refused by the schema since revision 0004)."""
    store = Store(db)
    trials = store.trials(store.require_study("shared").id)
    with store.session() as session:
        rows = session.execute(
            sa.text("SELECT trial_id FROM lrb_metric_point WHERE name = 'score'")
        )
        counts = Counter(trial_id for (trial_id,) in rows)
    store.dispose()
    return {
        "trials": len(trials),
        "trained": sum(t.attempt for t in trials),
        "complete": sum(t.status is TrialStatus.complete for t in trials),
        "unfinished": sum(not t.status.finished for t in trials),
        "lost": sum(t.total_steps - counts[t.id] for t in trials if t.status.finished)
        if counts
        else -1,  # a task without `score`
    }


def reset(label: str, db: str) -> None:
    if label == "PostgreSQL":
        reset_postgres()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(db.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)


def split(folder: Path, quick: bool) -> None:
    """Part 1: 1, 2 and 4 processes on one study."""
    sleepy = folder / "sleepy.py"
    sleepy.write_text(SLEEPY_TASK)
    trials = 4 if quick else 16
    tasks = [("sleeping trial", f"{sleepy}:train", 20), ("digits-mlp", "digits-mlp", 100)]
    print(f"\n1. {trials} trials split between processes")
    print(f"{'database':<11} {'task':<15} {'procs':>5} {'trained':>8} {'lost':>8} "
          f"{'wall s':>7} {'speed-up':>8}")  # fmt: skip
    for label, db in databases(folder, "split"):
        for task_label, task, steps in tasks:
            alone = None
            for processes in (1, 2, 4):
                reset(label, db)
                command = tune_command(task, db, trials, steps)
                start = time.perf_counter()
                running = [
                    subprocess.Popen(
                        command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                    )
                    for _ in range(processes)
                ]
                errors = [p.communicate()[1].decode() for p in running]
                wall = time.perf_counter() - start
                failed = [e for p, e in zip(running, errors) if p.returncode]
                if failed:
                    print(f"  {processes} processes failed: {failed[0][-400:]}")
                alone = alone or wall
                found = audit(db)
                lost = found["lost"] if found["lost"] >= 0 else "-"
                print(f"{label:<11} {task_label:<15} {processes:>5} {found['trained']:>8} "
                      f"{lost:>8} {wall:>7.1f} {alone / wall:>7.2f}x")  # fmt: skip


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def faults(folder: Path, quick: bool) -> None:
    """Part 2: kill -9 at random moments, and a PostgreSQL restart."""
    sleepy = folder / "sleepy.py"
    sleepy.write_text(SLEEPY_TASK)
    kills = 4 if quick else 20
    rng = random.Random(0)
    print(f"\n2. faults: {kills} kill -9 of a random one of 2 processes (each uses --workers 2)")
    print(f"{'database':<11} {'fault':<22} {'trials':>6} {'ended once':>10} {'running':>7} "
          f"{'orphans':>7} {'lost':>7} {'trained':>7} integrity")  # fmt: skip
    for label, db in databases(folder, "faults"):
        reset(label, db)
        command = tune_command(f"{sleepy}:train", db, 24, 20, "--workers", "2",
                               "--param", "sleep=0.05")  # fmt: skip
        running = [subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(2)]  # fmt: skip
        killed_workers: set[int] = set()
        for _ in range(kills):
            time.sleep(rng.uniform(0.5, 3.0))
            index = rng.randrange(2)
            victim = running[index]
            killed_workers |= _descendants(victim.pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            running[index] = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL)  # fmt: skip
        codes = [p.wait() for p in running]
        time.sleep(2.0)
        orphans = sum(map(_alive, killed_workers))
        report(label, f"kill -9 x{kills} (exit {codes})", db, orphans)


def outage(folder: Path, quick: bool) -> None:
    """Part 3: PostgreSQL stopped for 10 s in the middle of a study run by 2 processes,
    with the default heartbeat and retry bound; the same study undisturbed beside it."""
    if not reset_postgres():
        print("\n3. outage: skipped (no PostgreSQL server)")
        return
    sleepy = folder / "sleepy.py"
    sleepy.write_text(SLEEPY_TASK)
    down = 3.0 if quick else 10.0
    env = {k: v for k, v in ENV.items() if k != "LRBENCH_HEARTBEAT"}
    command = tune_command(f"{sleepy}:train", POSTGRES_URL, 12, 20, "--param", "sleep=0.1")
    print(f"\n3. outage: PostgreSQL stopped {down:g} s mid-study, 2 processes, 12 trials of 2 s")
    print(f"{'database':<11} {'fault':<22} {'trials':>6} {'ended once':>10} {'running':>7} "
          f"{'orphans':>7} {'lost':>7} {'trained':>7} integrity")  # fmt: skip
    walls = {}
    for fault in ("none", f"server down {down:g} s"):
        reset_postgres()
        start = time.monotonic()
        running = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE) for _ in range(2)]  # fmt: skip
        if fault != "none":
            _wait_for_points(POSTGRES_URL, least=40)  # both processes are training
            _postgres_cluster("stop")
            time.sleep(down)
            _postgres_cluster("start")
        errors = [p.communicate()[1].decode() for p in running]
        walls[fault] = time.monotonic() - start
        codes = [p.returncode for p in running]
        for code, error in zip(codes, errors):
            if code:
                print(f"  a process stopped: {error.strip().splitlines()[-1:]}")
        report("PostgreSQL", f"{fault} (exit {codes})", POSTGRES_URL, 0)
        back = [line.split("after ")[-1] for e in errors for line in e.splitlines()
                if "answered again" in line]  # fmt: skip
        if fault != "none":
            print(f"  the database answered each worker again after: {', '.join(back)}")
    clean, disturbed = walls.values()
    print(f"  study wall time: {disturbed:.1f} s with the outage, {clean:.1f} s without")


def _wait_for_points(db: str, least: int) -> None:
    while True:
        try:
            with sa.create_engine(db, poolclass=sa.pool.NullPool).connect() as connection:
                count = connection.execute(sa.text("SELECT count(*) FROM lrb_metric_point"))
                if count.scalar_one() >= least:
                    return
        except sa.exc.SQLAlchemyError:  # no tables yet
            pass
        time.sleep(0.2)


def _postgres_cluster(action: str) -> None:
    version = sorted(Path("/etc/postgresql").iterdir())[-1].name
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
                   check=True)  # fmt: skip


def report(label: str, fault: str, db: str, orphans: int) -> None:
    found = audit(db)
    integrity = "-"
    if db.startswith("sqlite"):
        with sa.create_engine(db).connect() as connection:
            integrity = connection.execute(sa.text("pragma integrity_check")).scalar()
    ended_once = found["complete"] == found["trials"] and not found["unfinished"]
    print(f"{label:<11} {fault:<22} {found['trials']:>6} {ended_once!s:>10} "
          f"{found['unfinished']:>7} {orphans:>7} {found['lost']:>7} {found['trained']:>7} "
          f"{integrity}")  # fmt: skip


def _write_points(db: str, trial_id: int, reports: int, results: multiprocessing.Queue) -> None:
    """One worker's trial: claimed, then its points written under the claim, as a study does."""
    store = Store(db)
    worker = f"writer-{trial_id}"
    trial = store.trial(trial_id)
    assert trial is not None and store.claim_trial(trial, worker)
    store.start_trial(trial_id, worker=worker)
    errors = 0
    start = time.perf_counter()
    for step in range(reports):
        try:
            store.add_points(trial_id, step, {"loss": 1.0 / (step + 1), "lr": 0.1}, worker=worker)
        except Exception:
            errors += 1
    results.put((2 * reports, errors, time.perf_counter() - start))


def writers(folder: Path, quick: bool) -> None:
    """Part 3: points/s with 4 concurrent writers."""
    reports = 200 if quick else 2000
    print(f"\n4. concurrent writers: {reports} reports of 2 metrics each, committed one by one")
    print(f"{'database':<11} {'writers':>7} {'points/s':>9} {'errors':>6}")
    context = multiprocessing.get_context("spawn")
    for label, db in databases(folder, "writers"):
        for count in (1, 4):
            reset(label, db)
            store = Store(db)
            study = store.create_study(
                name="w", task=store.task(TaskInfo(name="bench")), objective="single-policy",
                metric="loss", mode="min", strategy="grid", config={"config": {}},
                trials=[{"policy": "fixed(lr=0.1)", "family": "fixed", "lr": 0.1, "seed": s,
                         "total_steps": reports} for s in range(count)],
            )  # fmt: skip
            ids = [t.id for t in store.trials(study.id)]
            store.dispose()
            results = context.Queue()
            start = time.perf_counter()
            processes = [context.Process(target=_write_points, args=(db, i, reports, results))
                         for i in ids]  # fmt: skip
            for process in processes:
                process.start()
            found = [results.get() for _ in processes]
            for process in processes:
                process.join()
            wall = time.perf_counter() - start
            points = sum(p for p, _, _ in found)
            errors = sum(e for _, e, _ in found)
            print(f"{label:<11} {count:>7} {points / wall:>9.0f} {errors:>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parts = {"split": split, "faults": faults, "outage": outage, "writers": writers}
    parser.add_argument("--part", choices=tuple(parts), action="append")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for part in args.part or tuple(parts):
            parts[part](Path(folder), args.quick)


if __name__ == "__main__":
    main()
