"""outage and ticket causes up to 32 characters (power_cut_by_resident)

Revision ID: 0010
Revises: 0009 (depends on 0007 maintenance)
Create Date: 2026-12-03 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('outages', 'tickets'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('cause', existing_type=sa.String(length=16),
                                  type_=sa.String(length=32), existing_nullable=False)


def downgrade() -> None:
    for table in ('tickets', 'outages'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('cause', existing_type=sa.String(length=32),
                                  type_=sa.String(length=16), existing_nullable=False)
