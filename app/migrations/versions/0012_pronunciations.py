"""pronunciations: the staff lexicon of word → pinyin per area

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pronunciations',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('area_code', sa.String(length=64), nullable=False),
        sa.Column('word', sa.String(length=20), nullable=False),
        sa.Column('pinyin', sa.String(length=200), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=120), nullable=False),
        sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['area_code'], ['areas.code'],
                                name=op.f('fk_pronunciations_area_code_areas'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pronunciations')),
        sa.UniqueConstraint('area_code', 'word', name='uq_pronunciations_area_word'),
    )
    with op.batch_alter_table('pronunciations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pronunciations_area_code'), ['area_code'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_pronunciations_word'), ['word'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pronunciations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pronunciations_word'))
        batch_op.drop_index(batch_op.f('ix_pronunciations_area_code'))
    op.drop_table('pronunciations')
