"""a metric has one value per step of a trial: writes run again store each point once

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 16:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OLD = "ix_lrb_metric_point_trial_name_step"
_NEW = "uq_lrb_metric_point_trial_name_step"
_COLUMNS = ["trial_id", "name", "step"]


def upgrade() -> None:
    # A point reported twice at one step keeps its last value, as the upsert now does.
    op.execute(
        "DELETE FROM lrb_metric_point WHERE id NOT IN "
        "(SELECT MAX(id) FROM lrb_metric_point GROUP BY trial_id, name, step)"
    )
    op.drop_index(_OLD, table_name="lrb_metric_point")
    op.create_index(_NEW, "lrb_metric_point", _COLUMNS, unique=True)


def downgrade() -> None:
    op.drop_index(_NEW, table_name="lrb_metric_point")
    op.create_index(_OLD, "lrb_metric_point", _COLUMNS)
