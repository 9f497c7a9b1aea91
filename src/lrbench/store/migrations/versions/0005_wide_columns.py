"""counts are 64-bit and names are text: an LLM run's tokens pass 2^31, names have no fixed width

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 17:00:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.types import TypeEngine

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (table, column, type before, type after)
_WIDENED: list[tuple[str, str, TypeEngine[Any], TypeEngine[Any]]] = [
    ("lrb_task", "name", sa.String(200), sa.Text()),
    ("lrb_task", "domain", sa.String(100), sa.Text()),
    ("lrb_task", "model", sa.String(200), sa.Text()),
    ("lrb_task", "dataset", sa.String(200), sa.Text()),
    ("lrb_task", "optimizer", sa.String(100), sa.Text()),
    ("lrb_task", "batch_size", sa.Integer(), sa.BigInteger()),
    ("lrb_task", "horizon", sa.Integer(), sa.BigInteger()),
    ("lrb_study", "name", sa.String(200), sa.Text()),
    ("lrb_study", "metric", sa.String(200), sa.Text()),
    ("lrb_trial", "family", sa.String(100), sa.Text()),
    ("lrb_trial", "seed", sa.Integer(), sa.BigInteger()),
    ("lrb_trial", "total_steps", sa.Integer(), sa.BigInteger()),
    ("lrb_trial", "cost_steps", sa.Integer(), sa.BigInteger()),
    ("lrb_trial", "cost_samples", sa.Integer(), sa.BigInteger()),
    ("lrb_trial", "cost_tokens", sa.Integer(), sa.BigInteger()),
    ("lrb_trial", "worker", sa.String(200), sa.Text()),
    ("lrb_metric_point", "step", sa.Integer(), sa.BigInteger()),
    ("lrb_metric_point", "name", sa.String(200), sa.Text()),
]


def _alter(to_new: bool) -> None:
    for table in dict.fromkeys(table for table, *_ in _WIDENED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, before, after in _WIDENED:
                if name == table:
                    batch_op.alter_column(
                        column,
                        existing_type=before if to_new else after,
                        type_=after if to_new else before,
                    )


def upgrade() -> None:
    _alter(to_new=True)


def downgrade() -> None:
    _alter(to_new=False)
