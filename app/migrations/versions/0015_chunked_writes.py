"""chunked long writes: area imports (resumable) and schedules' pending re-issues

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'area_imports',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('actor', sa.String(length=120), nullable=False),
        sa.Column('scope_path', sa.String(length=400), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('created', sa.Integer(), nullable=False),
        sa.Column('updated', sa.Integer(), nullable=False),
        sa.Column('payload', sa.Text(), nullable=True),
        sa.Column('errors', sa.JSON(), nullable=True),
        sa.Column('heartbeat_at', app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', app.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_area_imports')),
    )
    with op.batch_alter_table('area_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_imports_status'), ['status'], unique=False)
    op.create_table(
        'pending_reissues',
        sa.Column('schedule_id', sa.String(length=40), nullable=False),
        sa.Column('token', sa.String(length=40), nullable=False),
        sa.Column('requested_at', app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('seen_at', app.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('schedule_id', name=op.f('pk_pending_reissues')),
    )


def downgrade() -> None:
    op.drop_table('pending_reissues')
    with op.batch_alter_table('area_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_imports_status'))
    op.drop_table('area_imports')
