"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 13:35:44.012556
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lrb_recipe",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("domain", sa.String(length=100), nullable=False),
        sa.Column("optimizer", sa.String(length=100), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("lr", sa.Float(), nullable=False),
        sa.Column("epochs", sa.Float(), nullable=True),
        sa.Column("warmup", sa.String(length=100), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "lrb_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config_key", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("optimizer", sa.String(length=100), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=True),
        sa.Column("horizon", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("config_key"),
    )
    with op.batch_alter_table("lrb_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lrb_task_name"), ["name"], unique=False)

    op.create_table(
        "lrb_study",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("objective", sa.String(length=50), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=3), nullable=False),
        sa.Column("strategy", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["lrb_task.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "lrb_trial",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("lr", sa.Float(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("cost_steps", sa.Integer(), nullable=False),
        sa.Column("cost_samples", sa.Integer(), nullable=False),
        sa.Column("cost_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_seconds", sa.Float(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["study_id"], ["lrb_study.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lrb_trial", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lrb_trial_status"), ["status"], unique=False)
        batch_op.create_index("ix_lrb_trial_study_number", ["study_id", "number"], unique=True)

    op.create_table(
        "lrb_metric_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["trial_id"], ["lrb_trial.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("lrb_metric_point", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lrb_metric_point_trial_name_step", ["trial_id", "name", "step"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("lrb_metric_point", schema=None) as batch_op:
        batch_op.drop_index("ix_lrb_metric_point_trial_name_step")

    op.drop_table("lrb_metric_point")
    with op.batch_alter_table("lrb_trial", schema=None) as batch_op:
        batch_op.drop_index("ix_lrb_trial_study_number")
        batch_op.drop_index(batch_op.f("ix_lrb_trial_status"))

    op.drop_table("lrb_trial")
    op.drop_table("lrb_study")
    with op.batch_alter_table("lrb_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lrb_task_name"))

    op.drop_table("lrb_task")
    op.drop_table("lrb_recipe")
