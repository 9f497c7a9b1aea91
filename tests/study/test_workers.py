"""Workers: processes sharing one study, killed workers, hung trials, Ctrl-C.

These start real `lrbench tune` processes, as a team would on several machines, against
SQLite and PostgreSQL; a short heartbeat (`$LRBENCH_HEARTBEAT`) makes a dead worker's claims
lapse within a second or two.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import _SKIP_POSTGRES, POSTGRES_URL, Relay, reset_postgres

from lrbench.exceptions import ConfigError
from lrbench.execution.claims import study_status
from lrbench.store import Store, TrialStatus
from lrbench.study import StudyConfig, tune

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for processes")

TASK = '''
import os
import time
from pathlib import Path

import torch


def train(trial):
    """A quadratic, slowed down; reports every step. `hang_above` makes a trial hang and
    `die_marks` makes each trial kill its worker once."""
    lr = trial.policy(0)
    if lr > float(trial.params.get("hang_above", 1e9)):
        time.sleep(3600)
    marks = trial.params.get("die_marks")
    if marks:
        mark = Path(marks) / f"{trial.number}"
        if not mark.exists():
            mark.touch()
            os._exit(1)
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
        time.sleep(float(trial.params.get("sleep", 0.0)))
    return {"score": -loss.item()}
'''


@pytest.fixture()
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "slow_task.py"
    path.write_text(TASK)
    return path


def _tune_args(task: Path, db: str, *extra: str, trials: int = 8, sleep: float = 0.0) -> list[str]:
    return [
        sys.executable, "-c", "from lrbench.cli.main import main; main()",
        "tune", "--task", f"{task}:train", "--metric", "score", "--mode", "max",
        "--policies", "fixed", "--lr-min", "0.001", "--lr-max", "0.1",
        "--trials", str(trials), "--total-steps", "12", "--param", f"sleep={sleep}",
        "--study", "shared", "--db", db, "--quiet", "--format", "json", *extra,
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def _short_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LRBENCH_HEARTBEAT", "0.25")


def _environment() -> dict[str, str]:
    return dict(os.environ)


def _assert_nothing_doubled(db: str, trials: int) -> None:
    store = Store(db)
    study = store.require_study("shared")
    finished = store.trials(study.id)
    assert len(finished) == trials
    assert all(t.status is TrialStatus.complete for t in finished)
    with store.session() as session:
        rows = session.execute(sa.text("SELECT trial_id, step, name FROM lrb_metric_point"))
        counts = Counter(tuple(row) for row in rows)
    assert counts and max(counts.values()) == 1
    assert sorted({step for _, step, _ in counts}) == list(range(1, 13))
    assert study_status(study) == "complete"


def test_four_processes_split_one_study_with_nothing_trained_twice(
    task_file: Path, db_url: str
) -> None:
    commands = [_tune_args(task_file, db_url, sleep=0.15) for _ in range(4)]  # 1.8 s a trial
    processes = [
        subprocess.Popen(c, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for c in commands
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0] * 4, [err.decode() for _, err in outputs]
    _assert_nothing_doubled(db_url, trials=8)
    store = Store(db_url)
    trials = store.trials(store.require_study("shared").id)
    assert [t.attempt for t in trials] == [1] * 8  # each trained once
    assert len({t.worker for t in trials}) > 1  # and the work was split


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


def _wait_for_points(db: str, least: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with Store(db).session() as session:
                count = session.scalar(sa.text("SELECT count(*) FROM lrb_metric_point"))
            if count and count >= least:
                return
        except Exception:  # the study has not created its tables yet
            pass
        time.sleep(0.2)
    raise AssertionError("the study never reported")


def test_a_killed_study_leaves_no_workers_shows_interrupted_and_resumes(
    task_file: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'killed.db'}"
    command = _tune_args(task_file, db, "--workers", "2", trials=4, sleep=0.2)
    process = subprocess.Popen(command, env=_environment(), stderr=subprocess.DEVNULL)
    _wait_for_points(db, least=3)
    workers = _descendants(process.pid)
    assert workers
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 60
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)], "orphaned worker processes"
    time.sleep(2.0)  # more than the grace period of a 0.25 s heartbeat
    store = Store(db)
    assert study_status(store.require_study("shared")) == "interrupted"
    resumed = subprocess.run(command, env=_environment(), capture_output=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr.decode()
    _assert_nothing_doubled(db, trials=4)


def test_ctrl_c_releases_the_trials_says_how_to_resume_and_exits_130(
    task_file: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'stopped.db'}"
    command = _tune_args(task_file, db, "--workers", "2", trials=4, sleep=0.2)
    process = subprocess.Popen(
        command, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _wait_for_points(db, least=3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert err.decode().strip().splitlines()[-1] == (
        "lrbench: interrupted; what finished is stored: run the same command again to resume"
    )
    assert "Traceback" not in err.decode()
    store = Store(db)
    study = store.require_study("shared")
    assert study_status(study) == "interrupted"
    assert not [t for t in store.trials(study.id) if t.status is TrialStatus.running]


def test_a_trial_whose_worker_process_dies_runs_again(task_file: Path, tmp_path: Path) -> None:
    (tmp_path / "marks").mkdir()
    config = StudyConfig(
        task=f"{task_file}:train", params={"die_marks": str(tmp_path / "marks")},
        metric="score", mode="max", policies=("fixed",), lr_min=0.01, lr_max=0.1, trials=2,
        total_steps=5,
    )  # fmt: skip
    result = tune(config, db=f"sqlite:///{tmp_path / 'dies.db'}", workers=2)
    assert [t.status for t in result.trials] == [TrialStatus.complete] * 2
    assert [t.attempt for t in result.trials] == [2, 2]


def test_a_hung_trial_is_stopped_at_the_time_limit_and_the_study_goes_on(
    task_file: Path, tmp_path: Path
) -> None:
    config = StudyConfig(
        task=f"{task_file}:train", params={"hang_above": 0.05}, metric="score", mode="max",
        policies=("fixed",), lr_min=0.01, lr_max=0.1, trials=2, total_steps=5,
    )  # fmt: skip
    result = tune(config, db=f"sqlite:///{tmp_path / 'hung.db'}", trial_timeout=5)
    by_lr = {t.lr: t for t in result.trials}
    assert by_lr[0.01].status is TrialStatus.complete
    assert by_lr[0.1].status is TrialStatus.failed
    assert by_lr[0.1].error == "ran past --trial-timeout 5 s; its worker was stopped"


@pytest.mark.parametrize("db", ["sqlite://", "sqlite:///:memory:"])
def test_a_study_in_memory_is_refused_before_any_work(db: str) -> None:
    config = StudyConfig(task="digits-mlp", trials=1, total_steps=5)
    with pytest.raises(ConfigError, match="in-memory database: the study would vanish"):
        tune(config, db=db)


@pytest.mark.parametrize("variable", ["LRBENCH_HEARTBEAT", "LRBENCH_DB_RETRY"])
def test_a_bad_worker_setting_is_refused_before_anything_is_stored(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, "-1")
    config = StudyConfig(task="digits-mlp", trials=1, total_steps=5)
    with pytest.raises(ConfigError, match=rf"\${variable} must be a positive number"):
        tune(config, db=f"sqlite:///{tmp_path / 'x.db'}")
    assert not (tmp_path / "x.db").exists()


def _restart_reason() -> str | None:
    """Why the local PostgreSQL server cannot be stopped and started here, or None."""
    if _SKIP_POSTGRES:
        return _SKIP_POSTGRES
    if sa.make_url(POSTGRES_URL).host not in ("127.0.0.1", "localhost"):
        return f"the test server {POSTGRES_URL} is not on this machine"
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        return "no pg_ctlcluster to stop and start the server (Debian's postgresql-common)"
    if os.geteuid() != 0:
        return "stopping the PostgreSQL server needs root"
    return None


def _postgres_cluster(action: str) -> None:
    version = sorted(Path("/etc/postgresql").iterdir())[-1].name
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.skipif(_restart_reason() is not None, reason=str(_restart_reason()))
def test_two_workers_ride_out_a_ten_second_postgres_restart(
    task_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LRBENCH_HEARTBEAT", "3")  # claims outlive the outage
    reset_postgres()
    command = _tune_args(task_file, POSTGRES_URL, trials=4, sleep=0.3)  # 3.6 s a trial
    workers = [
        subprocess.Popen(c, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for c in (command, command)
    ]
    try:
        _wait_for_points(POSTGRES_URL, least=6)
        _postgres_cluster("stop")
        time.sleep(10)
    finally:
        _postgres_cluster("start")
    outputs = [worker.communicate(timeout=600) for worker in workers]
    errors = [err.decode() for _, err in outputs]
    assert [worker.returncode for worker in workers] == [0, 0], errors
    assert all("answered again after" in err for err in errors)  # met, and ridden out
    _assert_nothing_doubled(POSTGRES_URL, trials=4)
    reset_postgres()


def test_a_database_away_past_the_bound_stops_with_one_line_and_the_study_resumes(
    task_file: Path, relayed: tuple[Relay, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    relay, url = relayed
    monkeypatch.setenv("LRBENCH_DB_RETRY", "2")
    command = _tune_args(task_file, url, "--workers", "2", trials=4, sleep=0.2)
    process = subprocess.Popen(command, env=_environment(), stderr=subprocess.PIPE)
    _wait_for_points(url, least=3)
    relay.cut()
    _, err = process.communicate(timeout=300)
    assert process.returncode == 2
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("lrbench: error: cannot connect to the database"), last
    assert "still after retrying for 2 s" in last and last.endswith("again to resume")
    assert "Traceback" not in err.decode()
    relay.restore()
    resumed = subprocess.run(command, env=_environment(), capture_output=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr.decode()
    _assert_nothing_doubled(url, trials=4)
