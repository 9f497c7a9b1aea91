"""SQLAlchemy 2 typed models of the LR policy database (DESIGN §6).

Changing these needs a new migration in `migrations/versions/`; the store refuses to open a
database whose schema revision differs from the code's head.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "MetricPointRow", "RecipeRow", "StudyRow", "TaskRow", "TrialRow"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of all LRBench++ tables (prefixed `lrb_`)."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class TaskRow(Base):
    """A training task configuration: what the LR is tuned for."""

    __tablename__ = "lrb_task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, index=True)
    config_key: Mapped[str] = mapped_column(String(64), unique=True)
    domain: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(Text, default="")
    dataset: Mapped[str] = mapped_column(Text, default="")
    optimizer: Mapped[str] = mapped_column(Text, default="")
    batch_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    horizon: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StudyRow(Base):
    """A tuning study: a task, an objective, a strategy, and its trials."""

    __tablename__ = "lrb_study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("lrb_task.id"))
    objective: Mapped[str] = mapped_column(String(50))
    metric: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(3))
    strategy: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    task: Mapped[TaskRow] = relationship()


class TrialRow(Base):
    """One run of the task under one policy and seed."""

    __tablename__ = "lrb_trial"
    __table_args__ = (Index("ix_lrb_trial_study_number", "study_id", "number", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("lrb_study.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    policy: Mapped[str] = mapped_column(Text)
    family: Mapped[str] = mapped_column(Text)
    lr: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)
    total_steps: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    cost_steps: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_samples: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    worker: Mapped[str | None] = mapped_column(Text, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class MetricPointRow(Base):
    """One reported value of one metric at one step of one trial."""

    __tablename__ = "lrb_metric_point"
    __table_args__ = (
        Index("uq_lrb_metric_point_trial_name_step", "trial_id", "name", "step", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("lrb_trial.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(Text)
    value: Mapped[float] = mapped_column(Float)


class RecipeRow(Base):
    """A published LR recipe (e.g. Alpaca-7B: 2e-5, cosine, 3 epochs, 3% warmup)."""

    __tablename__ = "lrb_recipe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    model: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(100))
    optimizer: Mapped[str] = mapped_column(String(100))
    family: Mapped[str] = mapped_column(String(100))
    lr: Mapped[float] = mapped_column(Float)
    epochs: Mapped[float | None] = mapped_column(Float, nullable=True)
    warmup: Mapped[str] = mapped_column(String(100), default="")
    source: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(20), default="full", server_default="full")
