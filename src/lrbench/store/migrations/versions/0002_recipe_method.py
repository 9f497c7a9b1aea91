"""recipes say how they fine-tune: in full or through a LoRA adapter

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 04:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every recipe stored before this revision fine-tunes all weights.
    with op.batch_alter_table("lrb_recipe", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("method", sa.String(length=20), nullable=False, server_default="full")
        )


def downgrade() -> None:
    with op.batch_alter_table("lrb_recipe", schema=None) as batch_op:
        batch_op.drop_column("method")
