"""village calendar: schedules' skip/extra dates, lunar days, day types and slot volumes;
day types and their dates; speakers' operating hours

Revision ID: 0009
Revises: 0003, 0004, 0006, 0007, 0008 (the earlier heads)
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0009'
down_revision = ('0003', '0004', '0006', '0007', '0008')  # merges every earlier branch (0007 needs 0005)
branch_labels = None
depends_on = None

_SCHEDULE_COLUMNS = ('skip_dates', 'extra_dates', 'lunar_days', 'day_types', 'skip_day_types',
                     'slot_volumes')


def upgrade() -> None:
    op.create_table(
        'day_types',
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=True),
        sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_day_types')),
    )
    op.create_table(
        'day_type_dates',
        sa.Column('day_type', sa.String(length=60), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(['day_type'], ['day_types.name'],
                                name=op.f('fk_day_type_dates_day_type_day_types'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('day_type', 'day', name=op.f('pk_day_type_dates')),
    )
    with op.batch_alter_table('day_type_dates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_day_type_dates_day'), ['day'], unique=False)
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        for name in _SCHEDULE_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.JSON(), nullable=True))
    with op.batch_alter_table('speakers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('operating_hours', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('silence_expected_until',
                                      app.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('speakers', schema=None) as batch_op:
        batch_op.drop_column('silence_expected_until')
        batch_op.drop_column('operating_hours')
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        for name in reversed(_SCHEDULE_COLUMNS):
            batch_op.drop_column(name)
    with op.batch_alter_table('day_type_dates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_day_type_dates_day'))
    op.drop_table('day_type_dates')
    op.drop_table('day_types')
