"""render key: render jobs name what they render, so one render per content runs across nodes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('render_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('render_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sha256', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_render_jobs_key_state', ['render_key', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('render_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_render_jobs_key_state')
        batch_op.drop_column('sha256')
        batch_op.drop_column('render_key')
