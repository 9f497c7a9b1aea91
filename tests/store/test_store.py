"""One storage suite, run against SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import math

import pytest
import sqlalchemy as sa

from lrbench import ConfigError, StorageError
from lrbench.store import Store, TaskInfo, TrialRecord, TrialStatus

TASK = TaskInfo(
    name="toy",
    domain="image-classification",
    model="mlp",
    dataset="digits",
    optimizer="sgd",
    batch_size=32,
    horizon=100,
)


def make_study(store: Store, name: str = "s", task: TaskInfo = TASK, mode: str = "max"):
    trials = [
        {
            "policy": f"fixed(lr={lr})",
            "family": "fixed",
            "lr": lr,
            "seed": seed,
            "total_steps": 100,
        }
        for lr in (0.1, 0.01, 1.0)
        for seed in (0, 1)
    ]
    return store.create_study(
        name=name,
        task=store.task(task),
        objective="single-policy",
        metric="acc",
        mode=mode,
        strategy="grid",
        config={"config": {"x": 1}},
        trials=trials,
    )


def finish(store: Store, trial: TrialRecord, status: TrialStatus, acc: float | None) -> None:
    store.start_trial(trial.id)
    store.add_points(trial.id, 10, {"acc": 0.5, "loss": 1.0})
    store.add_points(trial.id, 20, {"acc": acc or 0.0})
    store.finish_trial(
        trial.id,
        status,
        metrics={} if acc is None else {"acc": acc},
        cost_steps=20,
        cost_seconds=0.5,
        cost_samples=640,
    )


def play(store: Store, study) -> None:
    accuracy = {0.1: (0.9, 0.8), 0.01: (0.6, 0.7), 1.0: (None, None)}
    for trial in store.trials(study.id):
        value = accuracy[trial.lr][trial.seed]
        finish(store, trial, TrialStatus.complete if value else TrialStatus.diverged, value)


def test_trials_points_and_records_round_trip(db_url: str) -> None:
    store = Store(db_url)
    study = make_study(store)
    trials = store.trials(study.id)
    assert [t.number for t in trials] == list(range(6))
    assert all(t.status is TrialStatus.queued for t in trials)
    finish(store, trials[0], TrialStatus.complete, 0.9)
    stored = store.trials(study.id)[0]
    assert dataclasses.is_dataclass(stored) and stored.metrics == {"acc": 0.9}
    assert (stored.status, stored.attempt, stored.cost_steps, stored.cost_samples) == (
        TrialStatus.complete,
        1,
        20,
        640,
    )
    assert store.points(stored.id) == [(10, "acc", 0.5), (10, "loss", 1.0), (20, "acc", 0.9)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        stored.lr = 5.0  # type: ignore[misc]


def test_a_restarted_trial_drops_the_points_of_its_interrupted_attempt(db_url: str) -> None:
    store = Store(db_url)
    trial = store.trials(make_study(store).id)[0]
    store.start_trial(trial.id)
    store.add_points(trial.id, 5, {"acc": 0.1})  # then the process is killed
    store.start_trial(trial.id)
    restarted = store.trials(trial.study_id)[0]
    assert restarted.attempt == 2 and store.points(trial.id) == []
    assert restarted.status is TrialStatus.running


def test_leaderboard_means_over_seeds_and_puts_failures_last(db_url: str) -> None:
    store = Store(db_url)
    study = make_study(store)
    play(store, study)
    board = store.leaderboard(study)
    assert [s.lr for s in board] == [0.1, 0.01, 1.0]
    assert board[0].mean == pytest.approx(0.85) and board[0].std == pytest.approx(0.0707107)
    assert board[0].seeds == 2 and board[0].statuses == {"complete": 2}
    assert math.isnan(board[2].mean) and board[2].statuses == {"diverged": 2}
    minimising = make_study(store, "s-min", mode="min")
    play(store, minimising)
    assert [s.lr for s in store.leaderboard(minimising)] == [0.01, 0.1, 1.0]


def test_top_k_for_the_task_then_the_nearest_task(db_url: str) -> None:
    store = Store(db_url)
    assert store.top_k(TASK, 3) == []
    play(store, make_study(store))
    top = store.top_k(TASK, 3, metric="acc")
    assert [(s.family, s.lr) for s in top] == [("fixed", 0.1)]  # one row per family
    assert top[0].source == "study s"
    similar = TaskInfo(name="other", model="mlp", dataset="digits", optimizer="adam")
    assert [s.lr for s in store.top_k(similar, 3)] == [0.1]
    unrelated = TaskInfo(name="other", model="gpt", dataset="text", optimizer="adam")
    assert store.top_k(unrelated, 3) == []


def test_export_import_round_trip(db_url: str, tmp_path) -> None:
    store = Store(db_url)
    study = make_study(store)
    play(store, study)
    data = store.export_study("s")
    copy = store.import_study(data, name="s-copy")
    assert store.leaderboard(copy) == store.leaderboard(study)
    original = {t.number: store.points(t.id) for t in store.trials(study.id)}
    assert {t.number: store.points(t.id) for t in store.trials(copy.id)} == original
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    moved = other.import_study(data)
    assert other.leaderboard(moved) == store.leaderboard(study)
    with pytest.raises(ConfigError, match="already exists"):
        store.import_study(data)
    with pytest.raises(ConfigError, match="not an LRBench"):
        store.import_study({"format": "something"})


def test_recipes_are_seeded_with_sources(db_url: str) -> None:
    recipes = {r.name: r for r in Store(db_url).recipes()}
    alpaca = recipes["alpaca-7b"]
    assert (alpaca.lr, alpaca.family, alpaca.epochs) == (2e-5, "cosine", 3)
    assert "Alpaca" in alpaca.source and recipes["dolly-7b"].lr == 5e-6
    assert {"vicuna-7b", "wizardlm-7b", "gpt4all-j-6b", "sgd-default", "adam-default"} <= set(
        recipes
    )


def test_newer_and_older_schemas_are_refused_with_the_fix(db_url: str) -> None:
    store = Store(db_url)
    make_study(store)
    with store.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(
        StorageError, match=r"newer LRBench.*\(`git pull` and `pip install -e \.` in its clone\)"
    ):
        Store(db_url)
    with store.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM alembic_version"))
    with pytest.raises(StorageError, match="run `lrbench db upgrade"):
        Store(db_url)


def test_study_lookup_errors_name_the_known_studies(db_url: str) -> None:
    store = Store(db_url)
    make_study(store, "alpha")
    with pytest.raises(ConfigError, match="no study named 'beta'.*known: alpha"):
        store.require_study("beta")


def test_bad_urls(tmp_path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot connect to the database"):
        Store(f"sqlite:///{garbage}")
    with pytest.raises(ConfigError, match="is not a database URL"):
        Store("not a url")
    with pytest.raises(StorageError, match="cannot connect to the database"):
        Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(StorageError, match="cannot connect to the database"):
        Store("sqlite:////nonexistent-dir/x/lrbench.db")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+psycopg://host:abc/db", "has a port that is not a number"),
        ("postgresql+psycopg://host:99999/db", "has port 99999, outside 1..65535"),
        ("nosuch://x", "unsupported database URL"),
        (":memory:", "is not a database URL"),
    ],
)
def test_a_malformed_url_is_one_line_naming_the_bad_part(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Store(url)


def test_postgres_urls_of_every_common_spelling_use_psycopg() -> None:
    from lrbench.store._engine import parse_url

    for url in ("postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg://u@h/db"):
        assert parse_url(url).drivername == "postgresql+psycopg"


def test_a_server_gets_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    from lrbench.store._engine import make_engine

    monkeypatch.setenv("LRBENCH_CONNECT_TIMEOUT", "2")
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    asked: dict[str, object] = {}

    @sa.event.listens_for(engine, "do_connect")
    def capture(dialect: object, record: object, cargs: object, cparams: dict) -> None:
        asked.update(cparams)
        raise RuntimeError("connecting is not needed")

    with pytest.raises(RuntimeError, match="not needed"):
        engine.connect()
    assert asked["connect_timeout"] == 2
    monkeypatch.setenv("LRBENCH_CONNECT_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="LRBENCH_CONNECT_TIMEOUT must be a positive number"):
        make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_recipes_say_whether_they_fine_tune_in_full_or_with_lora(db_url: str) -> None:
    recipes = {r.name: r for r in Store(db_url).recipes()}
    assert recipes["alpaca-7b"].method == "full"
    lora = {r.name: r.lr for r in recipes.values() if r.method == "lora"}
    assert lora == {"alpaca-lora-7b": 3e-4, "qlora-guanaco-7b": 2e-4, "lora-gpt2-medium-e2e": 2e-4}


def test_a_first_revision_database_upgrades_keeping_its_studies_and_gaining_recipes(
    db_url: str,
) -> None:
    """And a metric reported twice at one step (revisions before 0004 kept both) keeps its
    last value."""
    from alembic import command

    from lrbench.store import _engine

    store = Store(db_url)
    play(store, make_study(store))
    points = {t.id: store.points(t.id) for t in store.trials(store.require_study("s").id)}
    store.dispose()
    config = _engine._alembic_config()
    with store.engine.connect() as connection:  # back to the schema of revision 1
        if connection.dialect.name == "sqlite":  # as the store migrates: no cascades
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        with connection.begin():
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
            connection.execute(sa.text("DELETE FROM lrb_recipe WHERE name != 'alpaca-7b'"))
            first = connection.execute(sa.text("SELECT MIN(id) FROM lrb_trial")).scalar_one()
            for value in (1.0, 2.0):
                connection.execute(
                    sa.text(
                        "INSERT INTO lrb_metric_point (trial_id, step, name, value) "
                        "VALUES (:trial, 7, 'twice', :value)"
                    ),
                    {"trial": first, "value": value},
                )
    with pytest.raises(StorageError, match="revision 0001, older.*run `lrbench db upgrade"):
        Store(db_url)
    assert Store.open_for_upgrade(db_url).upgrade() == ("0001", "0005")
    store = Store(db_url)
    assert store.points(first, "twice") == [(7, "twice", 2.0)]
    kept = {t: [p for p in store.points(t) if p[1] != "twice"] for t in points}
    assert kept == points  # no table copy cascaded into the metric points
    recipes = [r.name for r in store.recipes()]
    assert len(recipes) == len(set(recipes))  # the kept recipe is not seeded twice
    by_name = {r.name: r for r in store.recipes()}
    assert by_name["alpaca-7b"].method == "full" and by_name["alpaca-lora-7b"].method == "lora"
    assert [score.lr for score in store.leaderboard(store.require_study("s"))][:2] == [0.1, 0.01]
    assert _schema_differences(store) == []


def _schema_differences(store: Store) -> list[object]:
    """How the database's tables differ from the models' (types included)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lrbench.store._models import Base

    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_the_migrations_build_the_schema_the_models_describe(db_url: str) -> None:
    assert _schema_differences(Store(db_url)) == []


def test_an_llm_run_of_a_trillion_tokens_and_2_to_the_40_steps_is_stored(db_url: str) -> None:
    store = Store(db_url)
    trial = store.trials(make_study(store, name="n" * 1000).id)[0]
    store.start_trial(trial.id)
    store.add_points(trial.id, 2**40, {"loss": 2.0})
    store.finish_trial(
        trial.id,
        TrialStatus.complete,
        metrics={"loss": 2.0},
        cost_steps=2**40,
        cost_seconds=1.0,
        cost_samples=2**45,
        cost_tokens=10**12,
    )
    stored = store.trial(trial.id)
    assert stored is not None and stored.status is TrialStatus.complete
    assert (stored.cost_steps, stored.cost_tokens) == (2**40, 10**12)
    assert store.points(trial.id) == [(2**40, "loss", 2.0)]
    assert store.require_study("n" * 1000).name == "n" * 1000


def test_a_database_of_another_application_is_refused_and_left_alone(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE their_users (id INTEGER)"))
    for create in (True, False):
        with pytest.raises(
            StorageError, match=r"tables that are not LRBench\+\+'s \(their_users\)"
        ):
            Store(db_url, create=create)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == ["their_users"]
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE their_users"))
    engine.dispose()


def test_a_database_missing_some_of_our_tables_names_the_fix(db_url: str) -> None:
    store = Store(db_url)
    play(store, make_study(store))
    store.dispose()
    with store.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE lrb_metric_point"))
    with pytest.raises(StorageError, match="lacks the tables lrb_metric_point.*restore it"):
        Store(db_url)


def test_non_finite_numbers_in_json_are_stored_as_one_named_string_on_both(db_url: str) -> None:
    store = Store(db_url)
    task = store.task(dataclasses.replace(TASK, params={"x": math.nan, "ys": [math.inf, 1.0]}))
    stored = store.known_task(TASK.name)
    assert stored is not None and stored.params == {"x": "NaN", "ys": ["Infinity", 1.0]}
    study = store.create_study(
        name="odd", task=task, objective="single-policy", metric="acc", mode="max",
        strategy="grid", config={"config": {"low": -math.inf}}, trials=[],
    )  # fmt: skip
    assert store.require_study(study.name).config == {"config": {"low": "-Infinity"}}


@pytest.mark.parametrize("name", ["../../x", "/etc/passwd", "a/b", ".hidden", "..", "x" * 300])
def test_a_study_name_never_leads_its_files_out_of_the_artifact_folder(
    name: str, tmp_path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    root = (tmp_path / "x.db.artifacts").resolve()
    folder = store.artifact_dir(name).resolve()
    assert folder.parent == root and len(folder.name) <= 100


def test_safe_study_names_keep_their_folder_and_others_stay_apart(tmp_path) -> None:
    from lrbench._files import folder_name

    assert folder_name("digits-mlp-grid-4adb4f1c") == "digits-mlp-grid-4adb4f1c"
    assert folder_name("a/b") != folder_name("a:b")


@pytest.mark.parametrize("name", ["x" * 201, "line\nbreak", "tab\there"])
def test_a_study_name_outside_the_rule_is_refused_before_anything_is_stored(
    name: str, tmp_path
) -> None:
    from lrbench.study import StudyConfig, tune

    db = tmp_path / "x.db"
    with pytest.raises(ConfigError, match="`--study` must be 1 to 200 characters"):
        tune(
            StudyConfig(task="digits-mlp", trials=1, total_steps=5),
            name=name,
            db=f"sqlite:///{db}",
        )
    assert not db.exists()


def _set(path: str, value: object):
    """A change to an export: the field at `path` (dots; numbers index lists) set to
    `value`, or removed where `value` is `_GONE`."""

    def change(data: dict) -> None:
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is _GONE:
            del target[last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return change


_GONE = object()
HOSTILE = [
    ("trials.0.status", "hacked", r"trials\[0\].status must be one of queued, running"),
    ("trials.0.metrics", {"acc": "high"}, r"trials\[0\].metrics.acc must be a number"),
    ("trials.0.metrics", [1, 2], r"trials\[0\].metrics must be an object"),
    ("trials.0.metrics", {"acc": math.nan}, r"trials\[0\].metrics.acc must be a finite"),
    ("trials.0.lr", -1.0, r"trials\[0\].lr must be a finite number >= 0"),
    ("trials.0.lr", 10**400, r"trials\[0\].lr must be a finite number >= 0"),
    ("trials.0.metrics", {"acc": 10**400}, r"trials\[0\].metrics.acc must be a finite"),
    ("trials.0.cost_tokens", 2**64, r"trials\[0\].cost_tokens must be a whole number in"),
    ("trials.0.total_steps", True, r"trials\[0\].total_steps must be a whole number"),
    ("trials.0.seed", "1", r"trials\[0\].seed must be a whole number"),
    ("trials.0.started_at", "yesterday", r"trials\[0\].started_at must be an ISO 8601"),
    ("trials.0.points.0", [1, "acc"], r"trials\[0\].points\[0\] must be \[step, metric, value\]"),
    ("trials.0.points.1", [10, "acc", 0.1], r"the only value of 'acc' at step 10"),
    ("trials.0.number", 1, r"trials\[1\].number must be unique"),
    ("trials.0.hack", 1, r"trials\[0\] has the unknown field 'hack'"),
    ("trials.0.policy", _GONE, r"trials\[0\] lacks the field 'policy'"),
    ("study.mode", "sideways", r"study.mode must be one of min, max"),
    ("study.name", "x" * 300, r"`study.name` must be 1 to 200 characters"),
    ("study.config", "text", r"study.config must be an object"),
    ("task.batch_size", 0, r"task.batch_size must be a whole number in 1"),
    ("task.name", None, r"task.name must be a non-empty string"),
    ("trials", {"0": {}}, r"trials must be a list"),
]


@pytest.mark.parametrize(("path", "value", "message"), HOSTILE)
def test_a_hostile_export_is_refused_by_field_and_stores_nothing(
    path: str, value: object, message: str, db_url: str
) -> None:
    store = Store(db_url)
    play(store, make_study(store))
    data = store.export_study("s")
    data["study"]["name"] = "imported"
    _set(path, value)(data)
    with pytest.raises(ConfigError, match=rf"^malformed study export: .*{message}") as raised:
        store.import_study(data)
    assert "\n" not in str(raised.value)
    assert [s.name for s in store.studies()] == ["s"]  # nothing stored, the store still lists
    assert store.top_k(TASK, 2)
