"""schedules, their targets and the scheduler lease

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29 02:36:03.520319
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scheduler_lease',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acquired_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_lease'))
    )
    op.create_table('schedules',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('playlist_id', sa.String(length=40), nullable=False),
    sa.Column('area_code', sa.String(length=64), nullable=True),
    sa.Column('times', sa.JSON(), nullable=False),
    sa.Column('every_minutes', sa.Integer(), nullable=True),
    sa.Column('window', sa.JSON(), nullable=True),
    sa.Column('days', sa.JSON(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('loop', sa.Integer(), nullable=False),
    sa.Column('volume', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('issued_through', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_schedules_area_code_areas'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedules')),
    sa.UniqueConstraint('name', name=op.f('uq_schedules_name'))
    )
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedules_playlist_id'), ['playlist_id'], unique=False)

    op.create_table('schedule_targets',
    sa.Column('schedule_id', sa.String(length=40), nullable=False),
    sa.Column('area_code', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_code'], ['areas.code'], name=op.f('fk_schedule_targets_area_code_areas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name=op.f('fk_schedule_targets_schedule_id_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('schedule_id', 'area_code', name=op.f('pk_schedule_targets'))
    )
    with op.batch_alter_table('schedule_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_targets_area_code'), ['area_code'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('schedule_targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_targets_area_code'))
    op.drop_table('schedule_targets')
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedules_playlist_id'))
    op.drop_table('schedules')
    op.drop_table('scheduler_lease')
